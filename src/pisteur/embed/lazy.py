"""An embedder that loads its model on first use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pisteur.embed.base import Embedder, load_embedder


class LazyEmbedder:
    """Stands in for an index's own model (described by its manifest) until something needs tokens or vectors:
    an indexing run over an unchanged corpus, or a lexical-only search, never pays for loading the model."""

    def __init__(self, model: dict[str, Any]) -> None:
        self._model = model
        self._inner: Embedder | None = None
        self.name = model["spec"]
        self.dims = int(model["dims"])
        self.max_tokens = int(model.get("max_tokens") or 512)

    def _load(self) -> Embedder:
        if self._inner is None:
            self._inner = load_embedder(self.name, **self._model.get("options", {}))
        return self._inner

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self._model.items() if k not in ("spec", "options")}

    def count_tokens(self, text: str) -> int:
        return self._load().count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._load().embed_documents(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._load().embed_queries(texts)

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close:
            close()
