"""The indexing run: discover -> diff against the index -> read phase -> dense phase.

Read phase (``pisteur.index.read_phase``): every new or changed file is read, chunked and stored with its
lexical terms, committed every few hundred chunks (inside a long file too), so everything is searchable
lexically within seconds to minutes and a run killed at any point loses one batch at most. Dense phase
(``pisteur.index.dense_phase``): chunks without a vector are embedded, best first (conversation turns and
documents before thinking and tool outputs, newest first), identical texts once; stopping it (Ctrl-C,
``--lexical-only``, an embedding server down) leaves chunks dense-pending for the next run or the live
indexer. A chunk whose text did not change keeps its vector (content-hash cache): an appended session
embeds only what is new, a changed file only its changed chunks.

Incremental by construction: a source whose size and mtime did not change is not read; a JSONL session
that only grew is re-read from the start of its last exchange (``resume_offset``); a changed file is
re-read whole; a file gone from an indexed folder is removed; a file a killed run left half-stored is redone.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pisteur import ingest
from pisteur.chunk import ChunkerConfig
from pisteur.embed import Embedder, load_embedder, resolve_spec
from pisteur.embed.lazy import LazyEmbedder
from pisteur.index.dense_phase import DenseOptions, dense_phase
from pisteur.index.plan import APPEND_READERS, HEAD_BYTES, PlanItem, fingerprint, in_scope, plan
from pisteur.index.read_phase import COMMIT_CHUNKS, ReadOptions, read_phase
from pisteur.index.report import IndexReport
from pisteur.store import manifest as mf
from pisteur.store import open_store
from pisteur.store.lock import WriterLock
from pisteur.text.analysis import ANALYZER_VERSION
from pisteur.types import KIND_THINKING, KIND_TOOL_RESULT, Segment

__all__ = ["APPEND_READERS", "COMMIT_CHUNKS", "HEAD_BYTES", "IndexReport", "fingerprint", "index_paths",
           "remove_paths"]

Progress = Callable[..., None]
_in_scope = in_scope


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


def embedder_for(store: Any, **overrides: Any) -> Embedder:
    """The embedder that produced an index's vectors (to embed queries the same way)."""
    from pisteur.embed import embedder_for_manifest

    return embedder_for_manifest(store.manifest(), **overrides)


def wipe_index(index_dir: Path) -> None:
    """``--rebuild``: empty an index directory, refusing anything that is not a pisteur index."""
    if not index_dir.exists():
        return
    children = [c for c in index_dir.iterdir() if c.name != "writer.lock"]
    if children and not ((index_dir / mf.MANIFEST).exists() or (index_dir / "index.sqlite").exists()):
        raise ValueError(f"refusing to --rebuild {index_dir}: it is not a pisteur index (no manifest.json or "
                         "index.sqlite there); name an index directory or an empty one")
    with WriterLock(index_dir):  # refuse to wipe under a running writer
        for child in children:
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def _resolve_embedder(existing: dict[str, Any], model: str | None, model_options: dict[str, Any] | None
                      ) -> tuple[Embedder, dict[str, Any]]:
    old_model = existing.get("model") if existing else None
    if old_model and old_model.get("spec") and model_options is None and (
        model is None or resolve_spec(model) == resolve_spec(old_model["spec"])
    ):
        return LazyEmbedder(old_model), old_model.get("options", {})
    spec = model or (old_model or {}).get("spec")
    opts = model_options if model_options is not None else (
        (old_model or {}).get("options", {}) if not model else {})
    return load_embedder(spec, **opts), opts


def _plan_run(w: Any, store: Any, roots: list[Path], reader_version: int, report: IndexReport,
              notify: Progress) -> list[PlanItem]:
    files, skipped = ingest.discover(roots)
    for p, reason in skipped:
        report.skipped.append((str(p), reason))
    known = store.sources()
    seen = {str(p) for p, _ in files}
    gone = [p for p in known if p not in seen and in_scope(p, roots)]
    items = list(plan(files, known, reader_version))
    todo = [x for x in items if x.action != "same"]
    report.unchanged = len(items) - len(todo)
    notify("start", files=len(todo), unchanged=report.unchanged, deleted=len(gone),
           bytes=sum(x.bytes_to_read for x in todo))
    for p in gone:
        w.delete_source(p)
        report.deleted += 1
    return todo


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
    lexical_only: bool = False,
    dense_seconds: float | None = None,
    redact: bool | None = None,
) -> IndexReport:
    """Index ``paths`` into ``index_dir``. ``lexical_only``: stop after the read phase (chunks wait for
    their vectors); ``dense_seconds``: spend at most this long in the dense phase (the rest waits);
    ``redact``: replace secrets before they are stored (None: the index's policy, else each reader's default —
    on for Claude Code sessions, off for case files)."""
    t0 = time.perf_counter()
    report = IndexReport()
    index_dir = Path(index_dir)
    notify = progress or (lambda *a, **k: None)
    roots = [Path(p).expanduser().resolve() for p in paths]
    store = _open_for_writing(index_dir, rebuild, engine, uri)
    existing = store.manifest()
    own_embedder = embedder is None
    if embedder is None:
        embedder, model_options = _resolve_embedder(existing, model, model_options)
    chunker = chunker or _index_chunker(existing)
    vectors = vectors or existing.get("vectors") or {"index": "flat", "precision": "float32"}
    want = wanted_manifest(embedder, chunker, vectors, model_options or {}, engine)
    redact, want["redaction"] = _redaction(existing, redact)
    try:
        if existing and (changes := mf.diff(existing, want)):
            raise mf.ManifestMismatch(changes)
        local = hasattr(store, "dense_counts")
        skip = {k for k, keep in ((KIND_TOOL_RESULT, include_tool_results), (KIND_THINKING, include_thinking))
                if not keep}
        opts = ReadOptions(chunker=chunker, count_tokens=embedder.count_tokens,
                           reader_version=int(want["reader_version"]), skip_kinds=skip,
                           segment_filter=segment_filter or _default_segment_filter(),
                           embed_now=None if local else embedder.embed_documents, redact=redact)
        with store.writer() as w:
            _update_manifest(w, existing, want, notify)
            todo = _plan_run(w, store, roots, opts.reader_version, report, notify)
            read_phase(w, todo, opts, report, notify)
            report.seconds_searchable = time.perf_counter() - t0
            notify("searchable", chunks=report.chunks_stored, seconds=report.seconds_searchable)
            if local:
                _dense(w, store, None if lexical_only else embedder, report, notify, dense_seconds)
    finally:
        _release(embedder if own_embedder else None, store)
    report.seconds = time.perf_counter() - t0
    return report


def _index_chunker(existing: dict[str, Any]) -> ChunkerConfig:
    """The chunker the index was built with (the defaults for a new index)."""
    return ChunkerConfig(**{k: v for k, v in (existing.get("chunker") or {}).items()
                            if k in ("size", "overlap", "version")})


def _dense(w: Any, store: Any, embedder: Embedder | None, report: IndexReport, notify: Progress,
           seconds: float | None) -> None:
    """The dense phase of a local index (skipped without an embedder), then its coverage in the report."""
    if embedder is not None:
        dense_phase(w, embedder.embed_documents, report, notify, DenseOptions(seconds=seconds))
    counts = store.dense_counts()
    report.dense_pending, report.dense_coverage = counts["pending"], store.dense_coverage(counts)


def _release(embedder: Any, store: Any) -> None:
    """Close the embedder this run loaded (one passed in belongs to the caller), then the store."""
    close = getattr(embedder, "close", None)
    if close:
        close()
    store.close()


def _open_for_writing(index_dir: Path, rebuild: bool, engine: str, uri: str | None) -> Any:
    """The store opened for writing, emptied first on --rebuild (local indexes only)."""
    if rebuild and engine != "local":
        raise ValueError("--rebuild is for local indexes; with Milvus, drop the collections or use another "
                         "PISTEUR_MILVUS_PREFIX")
    if rebuild:
        wipe_index(index_dir)
    return open_store(index_dir, readonly=False, engine=engine, uri=uri)


def _default_segment_filter() -> Callable[[Segment], bool]:
    from pisteur.ingest.self_echo import keep_segment

    return keep_segment


def _update_manifest(w: Any, existing: dict[str, Any], want: dict[str, Any], notify: Progress) -> None:
    """Re-derive the lexical terms after an analyser change; record what changed that needs no rebuild."""
    if existing and existing.get("analyzer_version") != ANALYZER_VERSION and hasattr(w, "reanalyze"):
        notify("reanalyzed", chunks=w.reanalyze())  # lexical terms only: no re-embedding needed
    if not existing or any(existing.get(k) != want[k] for k in ("reader_version", "analyzer_version", "redaction")):
        w.set_manifest({**existing, **want})


def _redaction(existing: dict[str, Any], redact: bool | None) -> tuple[bool | None, dict[str, Any]]:
    """The run's redaction setting and the policy recorded in the manifest. A plain run keeps the index's policy;
    asking for another one on an index that has one is refused (stored texts would mix both: rebuild)."""
    old = (existing or {}).get("redaction")
    if redact is None and old and old.get("mode") in ("on", "off"):
        redact = old["mode"] == "on"
    policy = ingest.redaction_policy(redact).to_manifest()
    if old and (old.get("mode"), old.get("readers")) != (policy["mode"], policy["readers"]):
        raise mf.ManifestMismatch([("redaction", old.get("mode"), policy["mode"])])
    return redact, policy


def remove_paths(index_dir: Path, paths: Sequence[Path], engine: str = "local", uri: str | None = None) -> int:
    """Remove every source at or under ``paths`` from the index; returns the number of sources removed."""
    if engine == "local" and not (Path(index_dir) / "index.sqlite").exists():
        raise FileNotFoundError(f"no pisteur index at {index_dir}")
    store = open_store(index_dir, readonly=False, engine=engine, uri=uri)
    roots = [Path(p).expanduser().resolve() for p in paths]
    n = 0
    with store.writer() as w:
        for p in list(store.sources()):
            if in_scope(p, roots):
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
