"""The indexing run: discover -> diff against the index -> read -> chunk -> embed -> commit.

Incremental by construction: a source whose size and mtime did not change is not read; a JSONL session
that only grew is re-read from the start of its last exchange (``resume_offset``); a changed file is
re-read whole; a file gone from an indexed folder is removed. Work is committed in batches of whole files,
so a run interrupted at any point (Ctrl-C, kill -9) leaves the index as of the last commit and the next run
does the rest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pisteur import ingest
from pisteur.chunk import ChunkerConfig, chunk_segments
from pisteur.embed import Embedder, load_embedder, resolve_spec
from pisteur.embed.lazy import LazyEmbedder
from pisteur.store import manifest as mf
from pisteur.store import open_store
from pisteur.store.base import SourceState
from pisteur.store.local import LocalStore
from pisteur.store.lock import WriterLock
from pisteur.text.analysis import ANALYZER_VERSION
from pisteur.types import KIND_THINKING, KIND_TOOL_RESULT, Chunk, Segment, SkipFile

HEAD_BYTES = 64 * 1024
EMBED_BATCH = 64  # chunks gathered across files before one embedding call
COMMIT_CHUNKS = int(os.environ.get("PISTEUR_COMMIT_CHUNKS", 512))  # commit at least this often ...
COMMIT_SECONDS = 20.0  # ... or this often
APPEND_READERS = {"claude", "claude-code"}  # append-only JSONL readers

Progress = Callable[..., None]


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    appended: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    skipped_lines: int = 0
    chunks_embedded: int = 0
    tokens_embedded: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added, "updated": self.updated, "appended": self.appended, "deleted": self.deleted,
            "unchanged": self.unchanged, "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "skipped_lines": self.skipped_lines, "chunks_embedded": self.chunks_embedded,
            "tokens_embedded": self.tokens_embedded, "seconds": round(self.seconds, 3),
        }


def fingerprint(path: Path, length: int | None = None) -> str:
    with open(path, "rb") as f:
        head = f.read(min(HEAD_BYTES, length) if length is not None else HEAD_BYTES)
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def wanted_manifest(embedder: Embedder, chunker: ChunkerConfig, vectors: dict[str, Any],
                    options: dict[str, Any], engine: str = "local") -> dict[str, Any]:
    desc = embedder.describe()
    return {
        "engine": engine,
        "model": {**desc, "spec": embedder.name, "dims": embedder.dims, "options": options},
        "chunker": chunker.to_manifest(),
        "vectors": vectors,
        "reader_version": getattr(ingest, "READER_VERSION", 0),
        "analyzer_version": ANALYZER_VERSION,
    }


def embedder_for(store: LocalStore, **overrides: Any) -> Embedder:
    """The embedder that produced an index's vectors (to embed queries the same way)."""
    from pisteur.embed import embedder_for_manifest

    return embedder_for_manifest(store.manifest(), **overrides)


def _in_scope(path: str, roots: Sequence[Path]) -> bool:
    p = Path(path)
    return any(p == r or r in p.parents for r in roots)


def _plan(files: list[tuple[Path, str]], known: dict[str, SourceState], reader_version: int):
    """Classify discovered files: (path, reader, action, from_offset) with action new|changed|append|same."""
    for path, reader in files:
        st = path.stat()
        old = known.get(str(path))
        if old is None:
            yield path, reader, "new", None
        elif (old.size == st.st_size and old.mtime_ns == st.st_mtime_ns and old.reader == reader
              and old.reader_version == reader_version):
            yield path, reader, "same", None
        elif (reader in APPEND_READERS and old.status == "ok" and old.resume_offset is not None
              and st.st_size > old.size and old.reader_version == reader_version
              and fingerprint(path, old.size) == old.fingerprint):
            yield path, reader, "append", old.resume_offset
        else:
            yield path, reader, "changed", None


class _Batch:
    """Sources read and chunked, waiting for one shared embedding call."""

    def __init__(self) -> None:
        self.items: list[tuple[SourceState, list[Chunk], int | None]] = []

    def chunks(self) -> int:
        return sum(len(c) for _, c, _ in self.items)


def index_paths(
    index_dir: Path,
    paths: Sequence[Path],
    *,
    model: str | None = None,
    model_options: dict[str, Any] | None = None,
    chunker: ChunkerConfig | None = None,
    vectors: dict[str, Any] | None = None,
    rebuild: bool = False,
    include_tool_results: bool = True,
    include_thinking: bool = True,
    segment_filter: Callable[[Segment], bool] | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    engine: str = "local",
    uri: str | None = None,
) -> IndexReport:
    t0 = time.perf_counter()
    report = IndexReport()
    index_dir = Path(index_dir)
    notify = progress or (lambda *a, **k: None)
    roots = [Path(p).expanduser().resolve() for p in paths]
    if rebuild and engine != "local":
        raise ValueError("--rebuild is for local indexes; with Milvus, drop the collections or use another "
                         "PISTEUR_MILVUS_PREFIX")
    if rebuild and index_dir.exists():
        with WriterLock(index_dir):  # refuse to wipe under a running writer
            for child in index_dir.iterdir():
                if child.name != "writer.lock":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
    store = open_store(index_dir, readonly=False, engine=engine, uri=uri)
    existing = store.manifest()
    own_embedder = embedder is None
    old_model = existing.get("model") if existing else None
    if embedder is None and old_model and old_model.get("spec") and model_options is None and (
        model is None or resolve_spec(model) == resolve_spec(old_model["spec"])
    ):
        embedder = LazyEmbedder(old_model)
        model_options = old_model.get("options", {})
    if embedder is None:
        spec = model or (existing.get("model", {}).get("spec") if existing else None)
        opts = model_options if model_options is not None else (
            existing.get("model", {}).get("options", {}) if existing and not model else {})
        embedder = load_embedder(spec, **opts)
        model_options = opts
    chunker = chunker or ChunkerConfig(**{k: v for k, v in (existing.get("chunker") or {}).items()
                                          if k in ("size", "overlap", "version")})
    vectors = vectors or existing.get("vectors") or {"index": "flat", "precision": "float32"}
    want = wanted_manifest(embedder, chunker, vectors, model_options or {}, engine)
    if existing:
        changes = mf.diff(existing, want)
        if changes:
            raise mf.ManifestMismatch(changes)
    reader_version = int(want["reader_version"])
    if segment_filter is None:
        from pisteur.ingest.self_echo import keep_segment

        segment_filter = keep_segment
    skip_kinds = {k for k, keep in ((KIND_TOOL_RESULT, include_tool_results), (KIND_THINKING, include_thinking))
                  if not keep}

    with store.writer() as w:
        if existing and existing.get("analyzer_version") != ANALYZER_VERSION and hasattr(w, "reanalyze"):
            n = w.reanalyze()  # lexical terms only: no re-embedding needed
            notify("reanalyzed", chunks=n)
        if not existing or any(existing.get(k) != want[k] for k in ("reader_version", "analyzer_version")):
            w.set_manifest({**existing, **want})
        files, skipped = ingest.discover(roots)
        for p, reason in skipped:
            report.skipped.append((str(p), reason))
        known = store.sources()
        seen = {str(p) for p, _ in files}
        gone = [p for p in known if p not in seen and _in_scope(p, roots)]
        plan = list(_plan(files, known, reader_version))
        todo = [x for x in plan if x[2] != "same"]
        report.unchanged = len(plan) - len(todo)
        notify("start", files=len(todo), unchanged=report.unchanged, deleted=len(gone))
        for p in gone:
            w.delete_source(p)
            report.deleted += 1
        batch = _Batch()
        last_commit = time.monotonic()

        def flush_batch() -> None:
            nonlocal last_commit
            texts = [c.text for _, chunks, _ in batch.items for c in chunks]
            vecs = embedder.embed_documents(texts) if texts else np.zeros((0, embedder.dims), np.float32)
            pos = 0
            for state, chunks, from_offset in batch.items:
                w.upsert_source(state, chunks, vecs[pos : pos + len(chunks)], from_offset=from_offset,
                                reader_version=reader_version)
                pos += len(chunks)
            report.chunks_embedded += len(texts)
            report.tokens_embedded += sum(c.tokens for _, chunks, _ in batch.items for c in chunks)
            notify("embedded", chunks=len(texts), sources=len(batch.items))
            batch.items.clear()
            if w.pending >= COMMIT_CHUNKS or time.monotonic() - last_commit > COMMIT_SECONDS:
                w.commit()
                last_commit = time.monotonic()

        for path, reader, action, from_offset in todo:
            st = path.stat()
            state = SourceState(path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns,
                                fingerprint=fingerprint(path), reader=reader)
            try:
                result = ingest.read(path, reader, start_offset=from_offset or 0)
            except SkipFile as exc:
                state.status, state.reason = "skipped", str(exc)
                report.skipped.append((str(path), str(exc)))
                batch.items.append((state, [], None))
                notify("file", path=str(path), action="skipped", chunks=0)
                continue
            except OSError as exc:
                report.skipped.append((str(path), f"cannot read: {exc.strerror or exc}"))
                notify("file", path=str(path), action="skipped", chunks=0)
                continue
            report.skipped_lines += result.skipped_lines
            for wmsg in result.warnings[:20]:
                report.warnings.append((str(path), wmsg))
            state.resume_offset = result.resume_offset
            segs = [s for s in result.segments if s.kind not in skip_kinds
                    and (segment_filter is None or segment_filter(s))]
            chunks = chunk_segments(segs, chunker, embedder.count_tokens)
            batch.items.append((state, chunks, from_offset if action == "append" else None))
            setattr(report, {"new": "added", "changed": "updated", "append": "appended"}[action],
                    getattr(report, {"new": "added", "changed": "updated", "append": "appended"}[action]) + 1)
            notify("file", path=str(path), action=action, chunks=len(chunks))
            if batch.chunks() >= EMBED_BATCH:
                flush_batch()
        flush_batch()
    close = getattr(embedder, "close", None)
    if own_embedder and close:
        close()
    store.close()
    report.seconds = time.perf_counter() - t0
    return report


def remove_paths(index_dir: Path, paths: Sequence[Path], engine: str = "local", uri: str | None = None) -> int:
    """Remove every source at or under ``paths`` from the index; returns the number of sources removed."""
    if engine == "local" and not (Path(index_dir) / "index.sqlite").exists():
        raise FileNotFoundError(f"no pisteur index at {index_dir}")
    store = open_store(index_dir, readonly=False, engine=engine, uri=uri)
    roots = [Path(p).expanduser().resolve() for p in paths]
    n = 0
    with store.writer() as w:
        for p in list(store.sources()):
            if _in_scope(p, roots):
                w.delete_source(p)
                n += 1
    store.close()
    return n


def default_sources() -> list[Path]:
    from pisteur.config import default_claude_projects

    return [default_claude_projects()]


def env_workers() -> int | None:
    v = os.environ.get("PISTEUR_WORKERS")
    return int(v) if v else None
