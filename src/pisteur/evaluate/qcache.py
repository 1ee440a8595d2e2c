"""A persistent cache of *query* vectors, so bench re-runs do not re-embed the queries of a dataset.

``CachedEmbedder`` caches documents only; this wrapper caches ``embed_queries`` the same way (one SQLite
file per model under ``<cache>/embeddings/``, suffix ``-queries``) and delegates documents to ``inner``.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pisteur.config import cache_dir


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class QueryCachedEmbedder:
    def __init__(self, inner: Any, directory: Path | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dims = inner.dims
        self.max_tokens = inner.max_tokens
        directory = directory or cache_dir() / "embeddings"
        directory.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", inner.name)
        self._db = sqlite3.connect(directory / f"{safe}-{inner.dims}-queries.sqlite", timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (k BLOB PRIMARY KEY, v BLOB NOT NULL)")

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_documents(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dims), np.float32)
        keys = [_key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = f"SELECT k, v FROM vec WHERE k IN ({','.join('?' * len(part))})"
            for k, v in self._db.execute(q, part):
                found[k] = np.frombuffer(v, np.float32)
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            vecs = np.asarray(self.inner.embed_queries([texts[i] for i in todo]), np.float32)
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vec VALUES (?, ?)",
                    [(keys[i], vecs[j].tobytes()) for j, i in enumerate(todo)],
                )
            for j, i in enumerate(todo):
                found[keys[i]] = vecs[j]
        for i, k in enumerate(keys):
            out[i] = found[k]
        return out

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def close(self) -> None:
        self._db.close()
