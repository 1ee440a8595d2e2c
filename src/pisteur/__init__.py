"""pisteur: local-first, French-first semantic search.

Pipeline, one package per stage: ingest -> chunk -> embed -> store -> retrieve -> serve.
"""

__version__ = "0.1.0"
