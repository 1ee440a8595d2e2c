"""Read phase: read -> chunk -> store every chunk with its lexical terms, committed every few hundred chunks.

One error boundary per source: whatever fails while reading, chunking or storing one file (a reader
error, a ``MemoryError``, a chunker bug, a text SQLite refuses) skips that file with a one-line reason
naming the stage, and the run goes on. Chunks get a vector here only when an identical text already has
one (content-hash cache); the others wait for the dense pass. Engines without a dense pass (Milvus)
embed at write time through ``embed_now``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pisteur import ingest
from pisteur.chunk import ChunkerConfig, chunk_segments
from pisteur.embed.base import EmbedderError
from pisteur.index.plan import PlanItem, fingerprint
from pisteur.index.report import IndexReport
from pisteur.store.base import SourceState
from pisteur.types import Chunk, Segment, SkipFile

COMMIT_CHUNKS = int(os.environ.get("PISTEUR_COMMIT_CHUNKS", 512))  # commit at least this often ...
COMMIT_SECONDS = 20.0  # ... or this often
Notify = Callable[..., None]


@dataclass
class ReadOptions:
    chunker: ChunkerConfig
    count_tokens: Callable[[str], int]
    reader_version: int
    skip_kinds: set[str] = field(default_factory=set)
    segment_filter: Callable[[Segment], bool] | None = None
    embed_now: Callable[[Sequence[str]], np.ndarray] | None = None
    redact: bool | None = None  # secrets -> [REDACTED:kind]; None: each reader's default (on for sessions)


class SourceFailed(Exception):
    def __init__(self, stage: str, exc: BaseException) -> None:
        msg = str(exc).splitlines()[0][:160] if str(exc) else ""
        super().__init__(f"{stage} failed: {type(exc).__name__}" + (f": {msg}" if msg else ""))


class Committer:
    """Commits the writer every ``COMMIT_CHUNKS`` chunks or ``COMMIT_SECONDS`` seconds."""

    def __init__(self, writer: object) -> None:
        self.w = writer
        self.last = time.monotonic()

    def maybe(self, force: bool = False) -> None:
        w = self.w
        if force or w.pending >= COMMIT_CHUNKS or time.monotonic() - self.last > COMMIT_SECONDS:  # type: ignore[attr-defined]
            w.commit()  # type: ignore[attr-defined]
            self.last = time.monotonic()


def _chunks_of(item: PlanItem, state: SourceState, opts: ReadOptions, report: IndexReport) -> list[Chunk]:
    try:
        result = ingest.read(item.path, item.reader, start_offset=item.from_offset or 0, redact=opts.redact)
    except SkipFile:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run
        raise SourceFailed("reading", exc) from exc
    report.skipped_lines += result.skipped_lines
    for msg in result.warnings[:20]:
        report.warnings.append((str(item.path), msg))
    state.resume_offset = result.resume_offset
    try:
        segs = [s for s in result.segments if s.kind not in opts.skip_kinds
                and (opts.segment_filter is None or opts.segment_filter(s))]
        return chunk_segments(segs, opts.chunker, opts.count_tokens)
    except EmbedderError:
        raise  # the model's tokenizer cannot load: no file is to blame, the run stops with its message
    except Exception as exc:  # noqa: BLE001
        raise SourceFailed("chunking", exc) from exc


def _store(w: object, item: PlanItem, state: SourceState, chunks: list[Chunk], opts: ReadOptions,
           report: IndexReport, commits: Committer, notify: Notify) -> None:
    from_offset = item.from_offset if item.action == "append" else None
    if opts.embed_now is not None:  # an engine that embeds at write time: one call per source
        try:
            vecs = opts.embed_now([c.text for c in chunks])
        except Exception as exc:  # noqa: BLE001
            raise SourceFailed("embedding", exc) from exc
        w.upsert_source(state, chunks, vecs, from_offset=from_offset,  # type: ignore[attr-defined]
                        reader_version=opts.reader_version)
        report.chunks_stored += len(chunks)
        report.chunks_embedded += len(chunks)
        report.tokens_embedded += sum(c.tokens for c in chunks)
        commits.maybe()
        return
    try:
        src = w.begin_source(state, from_offset=from_offset,  # type: ignore[attr-defined]
                             reader_version=opts.reader_version)
        for i in range(0, len(chunks), COMMIT_CHUNKS):
            part = chunks[i : i + COMMIT_CHUNKS]
            report.chunks_reused += w.add_chunks(src, part)  # type: ignore[attr-defined]
            report.chunks_stored += len(part)
            notify("stored", chunks=len(part))
            commits.maybe()  # a long file is committed inside: kill -9 loses one batch at most
        w.end_source(src, state)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001
        raise SourceFailed("storing", exc) from exc


def read_phase(w: object, todo: list[PlanItem], opts: ReadOptions, report: IndexReport, notify: Notify) -> None:
    commits = Committer(w)
    for item in todo:
        try:
            st = item.path.stat()
            state = SourceState(path=str(item.path), size=st.st_size, mtime_ns=st.st_mtime_ns,
                                fingerprint=fingerprint(item.path), reader=item.reader)
        except OSError as exc:
            report.skipped.append((str(item.path), f"cannot read: {exc.strerror or exc}"))
            notify("file", path=str(item.path), action="skipped", chunks=0, bytes=item.bytes_to_read)
            continue
        try:
            chunks = _chunks_of(item, state, opts, report)
            _store(w, item, state, chunks, opts, report, commits, notify)
        except (SkipFile, SourceFailed) as exc:
            _skip(w, state, str(exc), opts, report)
            notify("file", path=str(item.path), action="skipped", chunks=0, bytes=item.bytes_to_read)
            commits.maybe()
            continue
        report.count(item.action)
        notify("file", path=str(item.path), action=item.action, chunks=len(chunks), bytes=item.bytes_to_read)
    commits.maybe(force=True)


def _skip(w: object, state: SourceState, reason: str, opts: ReadOptions, report: IndexReport) -> None:
    """Record the skip (listed by ``status`` in later runs too); a path SQLite cannot store (not UTF-8)
    is reported in this run only."""
    report.skipped.append((state.path, reason))
    try:
        if hasattr(w, "mark_skipped"):
            w.mark_skipped(state, reason, reader_version=opts.reader_version)
        else:  # an engine without it: the one-call form
            state.status, state.reason = "skipped", reason
            w.upsert_source(state, [], np.zeros((0, 1), np.float32),  # type: ignore[attr-defined]
                            reader_version=opts.reader_version)
    except UnicodeEncodeError:
        pass
