"""Moving an index between engines and machines: ``pisteur export`` / ``import`` / ``migrate``.

The export format is a directory (plain files, no extra dependency; tar it to ship it):

- ``export.json``: format version, the source index's manifest, counts, what the vectors are;
- ``sources.jsonl``: one ``SourceState`` per line (what the indexer needs to keep updating incrementally);
- ``chunks.jsonl``: one chunk per line, grouped by source and in source order: ``id, source, ord, kind, text,
  meta, line_start, line_end, byte_start, byte_end, tokens, terms`` (``terms``: the analysed lexical terms);
- ``vectors.npy``: float32 (n, dims), row i = line i of ``chunks.jsonl`` (memory-mapped on import). Vectors
  of a quantised index are exported de-quantised (``export.json`` says which precision they came from).

Records flow as ``(SourceState, chunks, vectors, ids, terms)`` per source from a reader (local index, Milvus,
export directory) to a sink (local writer, Milvus writer, export directory), so ``migrate`` streams from the
local index to Milvus without an intermediate copy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pisteur.store.base import SourceState
from pisteur.types import Chunk

FORMAT = 1
_CHUNK_KEYS = ("line_start", "line_end", "byte_start", "byte_end", "tokens")


@dataclass
class Record:
    state: SourceState
    chunks: list[Chunk]
    vectors: np.ndarray
    ids: list[int]
    terms: list[str]


def _state_dict(st: SourceState) -> dict[str, Any]:
    return asdict(st)


def _state(d: dict[str, Any]) -> SourceState:
    return SourceState(**{k: v for k, v in d.items() if k in SourceState.__dataclass_fields__})


# -- readers -------------------------------------------------------------------------------------
def iter_local(store: Any, batch: int = 2000) -> Iterator[Record]:
    """Every source of a local index (SQLite + vector layer), chunks in order, with vectors and terms."""
    con = store.con
    states = store.sources()
    for sid, path in con.execute("SELECT id, path FROM sources ORDER BY id").fetchall():
        rows = con.execute(
            "SELECT c.id, c.ord, c.kind, c.text, c.meta, c.line_start, c.line_end, c.byte_start, c.byte_end,"
            " c.tokens, f.terms FROM chunks c LEFT JOIN chunks_fts f ON f.rowid = c.id"
            " WHERE c.source_id = ? ORDER BY c.ord, c.id", (sid,)).fetchall()
        ids = [int(r[0]) for r in rows]
        vecs = np.concatenate([store.vectors(ids[i : i + batch]) for i in range(0, len(ids), batch)]) \
            if ids else np.zeros((0, int(store.manifest()["model"]["dims"])), np.float32)
        chunks = [Chunk(text=r[3], kind=r[2], meta=json.loads(r[4] or "{}"), ord=int(r[1]), line_start=r[5],
                        line_end=r[6], byte_start=r[7], byte_end=r[8], tokens=int(r[9] or 0)) for r in rows]
        yield Record(states[path], chunks, vecs, ids, [r[10] or "" for r in rows])


def iter_milvus(store: Any) -> Iterator[Record]:
    """Every source of a Milvus store (chunks grouped in memory per source: fine for a migration tool)."""
    from pisteur.text.analysis import analyze

    by_source: dict[str, list[Any]] = {}
    for h in store.iter_chunks(with_vectors=True):
        by_source.setdefault(h.source, []).append(h)
    states = store.sources()
    for path, hits in by_source.items():
        hits.sort(key=lambda h: (h.meta.get("ord") or 0, h.id))
        chunks = [Chunk(text=h.text, kind=h.kind, meta={k: v for k, v in h.meta.items() if k != "ord"},
                        ord=int(h.meta.get("ord") or 0), line_start=h.meta.get("line_start"),
                        line_end=h.meta.get("line_end")) for h in hits]
        vecs = np.asarray([h.explain["vector"] for h in hits], np.float32)
        st = states.get(path) or SourceState(path=path, size=0, mtime_ns=0, fingerprint="", reader="import")
        yield Record(st, chunks, vecs, [h.id for h in hits], [" ".join(analyze(h.text)) for h in hits])


def iter_export(directory: Path) -> Iterator[Record]:
    directory = Path(directory)
    states = {}
    with open(directory / "sources.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            states[d["path"]] = _state(d)
    vectors = np.load(directory / "vectors.npy", mmap_mode="r")
    cur: list[dict[str, Any]] = []
    row = 0

    def flush(group: list[dict[str, Any]], start: int) -> Record:
        path = group[0]["source"]
        chunks = [Chunk(text=c["text"], kind=c["kind"], meta=c.get("meta") or {}, ord=int(c.get("ord", 0)),
                        **{k: c.get(k) for k in _CHUNK_KEYS if k != "tokens"}, tokens=int(c.get("tokens") or 0))
                  for c in group]
        return Record(states.get(path) or SourceState(path=path, size=0, mtime_ns=0, fingerprint="",
                                                      reader="import"),
                      chunks, np.asarray(vectors[start : start + len(group)], np.float32),
                      [int(c["id"]) for c in group], [c.get("terms") or "" for c in group])

    with open(directory / "chunks.jsonl", encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            if cur and c["source"] != cur[0]["source"]:
                yield flush(cur, row)
                row += len(cur)
                cur = []
            cur.append(c)
    if cur:
        yield flush(cur, row)
    dims = vectors.shape[1]
    done = set()
    with open(directory / "chunks.jsonl", encoding="utf-8") as f:
        for line in f:
            done.add(json.loads(line)["source"])
    for path, st in states.items():  # sources without chunks (skipped or empty files) keep their state
        if path not in done:
            yield Record(st, [], np.zeros((0, dims), np.float32), [], [])


# -- sinks ---------------------------------------------------------------------------------------
def write_export(records: Iterator[Record], directory: Path, manifest: dict[str, Any],
                 sources: dict[str, SourceState] | None = None) -> dict[str, Any]:
    from pisteur.markers import MARKER

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dims = int(manifest["model"]["dims"])
    n = 0
    tmp_vec = directory / "vectors.f32.tmp"
    written: set[str] = set()
    with open(directory / "chunks.jsonl", "w", encoding="utf-8") as fc, \
            open(directory / "sources.jsonl", "w", encoding="utf-8") as fs, open(tmp_vec, "wb") as fv:
        for rec in records:
            fs.write(json.dumps(_state_dict(rec.state), ensure_ascii=False) + "\n")
            written.add(rec.state.path)
            for j, ch in enumerate(rec.chunks):
                row = {"id": rec.ids[j], "source": rec.state.path, "ord": ch.ord, "kind": ch.kind,
                       "text": ch.text, "meta": ch.meta, **{k: getattr(ch, k) for k in _CHUNK_KEYS},
                       "terms": rec.terms[j]}
                fc.write(json.dumps(row, ensure_ascii=False) + "\n")
            fv.write(np.ascontiguousarray(rec.vectors, np.float32).tobytes())
            n += len(rec.chunks)
        for path, st in (sources or {}).items():  # sources without chunks (skipped files)
            if path not in written:
                fs.write(json.dumps(_state_dict(st), ensure_ascii=False) + "\n")
    out = np.lib.format.open_memmap(directory / "vectors.npy", "w+", np.float32, (n, dims))
    if n:
        out[:] = np.fromfile(tmp_vec, np.float32).reshape(n, dims)
    out.flush()
    del out
    tmp_vec.unlink()
    info = {"format": FORMAT, "chunks": n, "dims": dims, "manifest": manifest,
            "vectors_from": manifest.get("vectors", {}).get("precision", "float32")}
    (directory / "export.json").write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
    (directory / MARKER).write_text("pisteur export: never indexed as documents\n", encoding="utf-8")
    return info


def write_store(records: Iterator[Record], writer: Any, *, keep_ids: bool = False, commit_every: int = 20_000,
                progress: Callable[[int], None] | None = None) -> int:
    """Upsert every record through a store writer (local ``StoreWriter`` or ``MilvusWriter``)."""
    n = since = 0
    for rec in records:
        extra: dict[str, Any] = {}
        if keep_ids:
            extra = {"ids": rec.ids, "terms": rec.terms}
        writer.upsert_source(rec.state, rec.chunks, rec.vectors,
                             reader_version=rec.state.reader_version, **extra)
        n += len(rec.chunks)
        since += len(rec.chunks)
        if since >= commit_every:
            writer.commit()
            since = 0
        if progress:
            progress(n)
    return n


# -- high level ----------------------------------------------------------------------------------
def _clean_manifest(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if k not in ("schema_version", "created", "updated", "engine")}


class ExportTargetError(ValueError):
    """The export directory is a folder with other files in it (a case folder, the index itself...)."""


def check_export_target(out: Path) -> None:
    """Refuse a non-empty folder that is not a previous export: an export written into a case folder would
    be indexed with it next time (and ``export`` overwrites the files it writes)."""
    from pisteur.markers import is_export_dir

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportTargetError(f"{out} is a file: give a new or empty folder to export to")
    if out.is_dir() and any(out.iterdir()) and not is_export_dir(out):
        raise ExportTargetError(f"{out} is not empty and holds no pisteur export: give a new or empty folder")


def export_index(index_dir: Path, out: Path) -> dict[str, Any]:
    from pisteur.store import open_store

    check_export_target(out)
    store = open_store(index_dir, readonly=True)
    try:
        missing = store.dense_counts()
        if missing["pending"] or missing["failed"]:
            # an export carries one vector per chunk; a chunk still waiting for its vector has none yet
            raise ExportTargetError(
                f"{missing['pending'] + missing['failed']} chunks of {index_dir} have no vector yet: run "
                f"`pisteur index` to finish them, then export")
        return write_export(iter_local(store), out, store.manifest(), store.sources())
    finally:
        store.close()


def import_export(directory: Path, *, index_dir: Path | None = None, milvus_uri: str | None = None,
                  prefix: str = "pisteur", vectors: dict[str, Any] | None = None) -> int:
    """Load an export into a new local index (``index_dir``) or a Milvus collection (``milvus_uri``)."""
    info = json.loads((Path(directory) / "export.json").read_text(encoding="utf-8"))
    manifest = _clean_manifest(info["manifest"])
    if vectors:
        manifest["vectors"] = vectors
    if milvus_uri:
        return _into_milvus(iter_export(directory), manifest, milvus_uri, prefix)
    assert index_dir is not None
    return _into_local(iter_export(directory), manifest, index_dir)


def _into_local(records: Iterator[Record], manifest: dict[str, Any], index_dir: Path) -> int:
    from pisteur.store import open_store

    index_dir = Path(index_dir)
    if (index_dir / "index.sqlite").exists():
        raise FileExistsError(f"{index_dir} already holds an index: import into a new directory")
    store = open_store(index_dir, readonly=False)
    try:
        with store.writer() as w:
            w.set_manifest({**manifest, "engine": "local"})
            store._vec = None
            store.refresh()
            return write_store(records, w)
    finally:
        store.close()


def _into_milvus(records: Iterator[Record], manifest: dict[str, Any], uri: str, prefix: str) -> int:
    from pisteur.store.milvus import MilvusStore

    store = MilvusStore(uri, prefix=prefix, readonly=False)
    try:
        store.create({**manifest, "engine": "milvus"})
        with store.writer() as w:
            return write_store(records, w, keep_ids=True)
    finally:
        store.close()


def migrate(index_dir: Path, *, to: str, uri: str | None = None, dest: Path | None = None,
            prefix: str = "pisteur", vectors: dict[str, Any] | None = None) -> int:
    """Copy a local index to Milvus (``to="milvus"``) or to another local index with other vector settings
    (``to="local"``, e.g. ``--precision binary``), streaming."""
    from pisteur.store import open_store

    store = open_store(index_dir, readonly=True)
    try:
        manifest = _clean_manifest(store.manifest())
        if vectors:
            manifest["vectors"] = vectors
        if to == "milvus":
            if not uri:
                raise ValueError("--uri is required for --to milvus")
            return _into_milvus(iter_local(store), manifest, uri, prefix)
        if to == "local":
            if dest is None:
                raise ValueError("--dest is required for --to local")
            return _into_local(iter_local(store), manifest, dest)
        raise ValueError(f"unknown target {to!r} (milvus or local)")
    finally:
        store.close()
