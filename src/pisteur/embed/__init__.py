"""Embedding stage: one ``Embedder`` protocol, one module per backend, a registry."""

from pisteur.embed.base import (
    DEFAULT_MODEL,
    Embedder,
    EmbedderError,
    backends,
    load_embedder,
    normalize,
    register,
    resolve_spec,
)

__all__ = [
    "DEFAULT_MODEL",
    "Embedder",
    "EmbedderError",
    "backends",
    "load_embedder",
    "normalize",
    "register",
    "resolve_spec",
]
