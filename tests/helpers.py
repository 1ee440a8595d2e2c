"""Test doubles. ``HashEmbedder`` is a deterministic bag-of-words hashing vectoriser: it exercises the
store and pipeline plumbing quickly; it is never used as a product model (tests about retrieval quality use
the real packaged models)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from pisteur.embed.base import normalize, register


class HashEmbedder:
    max_tokens = 512

    def __init__(self, name: str = "hash", dims: int = 64, **_: Any) -> None:
        self.name = f"test-hash:{name}"
        self.dims = int(dims)
        self.calls = 0
        self.embedded = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dims, np.float32)
        for w in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
            v[h % self.dims] += 1.0 if (h >> 32) & 1 else -1.0
        return v

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text)) + 2

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        return normalize(np.stack([self._vec(t) for t in texts]))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return normalize(np.stack([self._vec(t) for t in texts]))

    def describe(self) -> dict[str, Any]:
        return {"backend": "test-hash", "dims": self.dims, "query_prefix": "", "document_prefix": ""}


@register("test-hash")
def _factory(name: str, **options: Any) -> HashEmbedder:
    return HashEmbedder(name, **options)
