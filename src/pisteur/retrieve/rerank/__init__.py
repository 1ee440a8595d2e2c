"""Second stage: rerankers behind one protocol (offline signals, cross-encoder, rerank servers)."""

from pisteur.retrieve.rerank.base import (
    RerankContext,
    Reranker,
    RerankError,
    get_reranker,
    register_reranker,
    reranker_names,
)

__all__ = ["RerankContext", "RerankError", "Reranker", "get_reranker", "register_reranker", "reranker_names"]
