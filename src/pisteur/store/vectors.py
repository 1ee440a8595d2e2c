"""Vector layer registry for the local engine.

A vector index lives in ``<index>/vectors/`` and is opened at a *generation*: the number of the last
committed write transaction (kept in SQLite). A writer calls ``flush(generation)`` to make its
additions/removals durable *before* it commits SQLite; a reader or the next writer opens the index at the
committed generation and ignores anything a crashed writer left for a later one. That ordering is what
makes an interrupted index run safe: SQLite never names a vector that is not on disk.

Implementations register under a name in ``VECTOR_INDEXES`` (``auto``, ``flat`` and ``binary`` in
``vectors_quant.py``, which opens the plain float32 segments of ``vectors_flat.py`` for an unquantised flat
index; ``hnsw`` and ``ivf`` in ``vectors_faiss.py`` when faiss is installed) and are chosen by the manifest's
``vectors.index`` entry. A name registered twice is an error, so no import order decides which one wins.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pisteur.registry import Registry


class VectorIndex(Protocol):
    """The vector layer of the local engine. Ids are the SQLite chunk ids (int64)."""

    dims: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Buffer float32 L2-normalised ``vectors`` under int64 ``ids`` (ids are never reused)."""
        ...

    def remove(self, ids: np.ndarray) -> None: ...

    def flush(self, generation: int) -> None:
        """Make buffered changes durable as ``generation`` (fsync'd) — called before the SQLite commit."""
        ...

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (ids int64, scores float32) by inner product, best first. ``allowed``: sorted int64 ids
        to restrict to (filters are applied before ranking, never after)."""
        ...

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors (float32, dequantised if needed) of ``ids``, in order."""
        ...

    def __len__(self) -> int: ...

    def nbytes(self) -> int:
        """Bytes on disk."""
        ...


Opener = Callable[..., VectorIndex]


VECTOR_INDEXES: Registry[Opener] = Registry(
    "vector index",
    builtin_modules=["pisteur.store.vectors_quant", "pisteur.store.vectors_faiss"],
    entry_point_group="pisteur.vector_indexes",
)


def register_vector_index(name: str) -> Callable[[Opener], Opener]:
    """Decorator: register a vector layer opener ``fn(directory, dims, generation, **config)``."""
    return VECTOR_INDEXES.register(name)


def open_vector_index(directory: Path, dims: int, generation: int, config: dict[str, Any]) -> VectorIndex:
    """Open the vector layer described by the manifest's ``vectors`` config at ``generation``."""
    name = config.get("index", "flat")
    if name not in VECTOR_INDEXES:
        raise ValueError(f"unknown vector index '{name}' (known: {', '.join(VECTOR_INDEXES.names())})")
    opener = VECTOR_INDEXES.get(name)
    return opener(directory, dims, generation, **{k: v for k, v in config.items() if k != "index"})


def vector_index_names() -> list[str]:
    return VECTOR_INDEXES.names()
