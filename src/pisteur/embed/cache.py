"""A persistent cache of vectors keyed by (model, text hash).

Used by the bench (``pisteur bench`` re-runs and compares configurations without re-embedding a corpus or its
questions). Storage is one SQLite file per model and side (documents, queries) under the cache dir; values are
float32 blobs.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pisteur.config import cache_dir
from pisteur.embed.base import Embedder


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class VectorCache:
    """text -> vector, in one SQLite file; ``lookup`` computes and stores what is missing."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (k BLOB PRIMARY KEY, v BLOB NOT NULL)")
        self.hits = 0
        self.misses = 0

    def lookup(self, texts: Sequence[str], dims: int, compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        texts = list(texts)
        keys = [_key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = f"SELECT k, v FROM vec WHERE k IN ({','.join('?' * len(part))})"
            for k, v in self._db.execute(q, part):
                found[k] = np.frombuffer(v, np.float32)
        todo = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            vecs = np.asarray(compute([texts[i] for i in todo]), np.float32)
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)",
                                     [(keys[i], vecs[j].tobytes()) for j, i in enumerate(todo)])
            for j, i in enumerate(todo):
                found[keys[i]] = vecs[j]
        out = np.zeros((len(texts), dims), np.float32)
        for i, k in enumerate(keys):
            out[i] = found[k]
        return out

    def close(self) -> None:
        self._db.close()


class CachedEmbedder:
    """Wraps an ``Embedder``; texts already embedded by the same model come from disk. Documents are cached by
    default, queries on request (``queries=True``; ``documents=False`` caches queries only)."""

    def __init__(self, inner: Embedder, directory: Path | None = None, *, documents: bool = True,
                 queries: bool = False) -> None:
        self.inner = inner
        self.name = inner.name
        self.dims = inner.dims
        self.max_tokens = inner.max_tokens
        directory = directory or cache_dir() / "embeddings"
        stem = f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', inner.name)}-{inner.dims}"
        self._docs = VectorCache(directory / f"{stem}.sqlite") if documents else None
        self._queries = VectorCache(directory / f"{stem}-queries.sqlite") if queries else None

    @property
    def hits(self) -> int:
        return self._docs.hits if self._docs else 0

    @property
    def misses(self) -> int:
        return self._docs.misses if self._docs else 0

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self._queries is None:
            return self.inner.embed_queries(texts)
        return self._queries.lookup(texts, self.dims, self.inner.embed_queries)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if self._docs is None:
            return self.inner.embed_documents(texts)
        return self._docs.lookup(texts, self.dims, self.inner.embed_documents)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def close(self) -> None:
        for c in (self._docs, self._queries):
            if c is not None:
                c.close()
        close = getattr(self.inner, "close", None)
        if close:
            close()
