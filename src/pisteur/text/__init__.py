"""Text analysis shared by the store (it writes the lexical terms) and retrieval (it analyses queries)."""
