"""Shipped French dictionaries (stop words, SMS abbreviations, acronyms, concepts) as package data."""
