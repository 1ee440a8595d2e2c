"""Retrieval: lexical analysis, query expansion, fusion and reranking."""
