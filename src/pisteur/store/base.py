"""The store protocol: what the indexer writes to and what retrieval reads from.

Two engines implement it: ``local`` (an index directory: SQLite for chunks, metadata and the FTS5 lexical
table; a vector layer beside it) and ``milvus`` (a Milvus collection, for scale-out). The vector layer of
the local engine has its own small protocol (``pisteur.store.vectors.VectorIndex``) so precisions and ANN
indexes plug in without changing the outer format. Filters are one type, ``Filters``, for every engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

import numpy as np

from pisteur.types import Chunk, Hit


@dataclass
class SourceState:
    """What the index remembers of one source file, to decide what to re-read."""

    path: str
    size: int
    mtime_ns: int
    fingerprint: str  # hash of the head of the file (first 64 KiB), detects rewrites vs appends
    reader: str  # "claude-code", "text", "pdf", ...
    resume_offset: int | None = None  # for append-only sources: where to re-read from
    chunks: int = 0
    status: str = "ok"  # ok | skipped
    reason: str = ""  # why it was skipped
    reader_version: int = 0  # ingest.READER_VERSION when it was read (a newer reader re-reads it)


@dataclass
class Filters:
    """Search filters. ``None`` means no constraint. Dates are ISO-8601 strings compared as text."""

    kinds: Sequence[str] | None = None
    project: str | None = None  # substring of the project (cwd)
    session: str | None = None  # session id prefix
    source: str | None = None  # substring of the source path
    date_from: str | None = None
    date_to: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not any([self.kinds, self.project, self.session, self.source, self.date_from, self.date_to])


class Writer(Protocol):
    """What ``Store.writer()`` yields (a context manager holding the single-writer lock). The local engine
    also streams a source in batches (``begin_source`` / ``add_chunks`` / ``end_source``, chunks without
    vectors allowed) and fills vectors later (``pending_chunks`` / ``set_vectors``); Milvus embeds at write
    time through ``upsert_source``."""

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: object, *_: object) -> None: ...

    def set_manifest(self, data: dict[str, Any]) -> None: ...

    def upsert_source(
        self,
        state: SourceState,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        *,
        from_offset: int | None = None,
        reader_version: int = 0,
    ) -> object:
        """Replace the chunks of ``state.path`` (with ``from_offset``, only those at or after that byte
        offset: an appended session) and record the new state, in the current transaction."""
        ...

    def delete_source(self, path: str) -> int: ...

    def commit(self, reopen: bool = True) -> None: ...


class Store(Protocol):
    """One index, local or Milvus: what the indexer writes to and what retrieval and serving read."""

    def manifest(self) -> dict[str, Any]: ...

    def generation(self) -> int: ...

    def refresh(self) -> bool:
        """Pick up what another process committed since; True if anything changed."""
        ...

    def replaced(self) -> bool:
        """Whether the index behind this open store was replaced by another one (rebuilt under a server)."""
        ...

    def sources(self) -> dict[str, SourceState]: ...

    def writer(self) -> Writer:
        """A context manager holding the single-writer lock (``IndexLocked`` if another process has it)."""
        ...

    def dense_search(self, query: np.ndarray, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        ...

    def lexical_search(self, terms: Sequence[str], k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """BM25 over analysed terms (OR semantics); returns (chunk id, score) best first."""
        ...

    def get(self, ids: Sequence[int]) -> list[Hit]: ...

    def neighbours(self, chunk_id: int, before: int = 1, after: int = 1) -> list[Hit]: ...

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """Stored float vectors of these chunks (for rescoring/reranking), in the given order."""
        ...

    def stats(self) -> dict[str, Any]: ...

    def iter_chunks(self) -> Iterator[Hit]: ...

    def close(self) -> None: ...


# The vector layer of the local engine has one protocol: ``pisteur.store.vectors.VectorIndex``.


# -- dense state of a chunk (schema 2) -----------------------------------------------------------------
DENSE_PENDING, DENSE_DONE, DENSE_FAILED = 0, 1, 2

# Dense-pass order by kind: what people search for first (conversation turns, summaries, documents,
# messages) before the assistant's thinking, and tool outputs last (86-89 % of a session's chunks).
_PRIORITY = {"exchange": 0, "summary": 0, "document": 0, "message": 0, "thinking": 1, "tool_result": 2}


def dense_priority(kind: str) -> int:
    return _PRIORITY.get(kind, 1)


def text_hash(text: str) -> str:
    """Content hash of a chunk's text (identical texts share one vector; unchanged ones are never
    re-embedded). ``surrogatepass``: a lone surrogate from a cut emoji must hash, not raise."""
    import hashlib

    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
