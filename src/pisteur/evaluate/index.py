"""Building (or re-using) the product index of a BEIR corpus for ``pisteur bench``.

Each corpus document becomes one source (``beir:<dataset>/<doc id>``) with one ``document`` segment,
chunked by the product chunker and embedded by the product embedder (wrapped in ``CachedEmbedder`` so a
re-run, or another configuration with the same model, never re-embeds), written through the store writer.
The index lives in ``<cache>/bench/<dataset>-<hash of corpus+model+chunker>/`` and is re-used when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pisteur.chunk import ChunkerConfig, chunk_segments
from pisteur.config import cache_dir
from pisteur.evaluate.beir import Dataset
from pisteur.store import manifest as mf
from pisteur.store.base import SourceState
from pisteur.store.local import LocalStore
from pisteur.types import KIND_DOCUMENT, Segment

BATCH = 64
DONE = "bench-complete.json"


@dataclass
class BuiltIndex:
    path: Path
    seconds: float  # time to build (0 when re-used; then ``built_seconds`` is the original build time)
    built_seconds: float
    reused: bool
    chunks: int
    bytes_on_disk: int
    embedded: int  # documents' chunks embedded by the model during this build (cache misses)


def source_path(dataset: str, doc_id: str) -> str:
    return f"beir:{dataset}/{doc_id}"


def doc_id_of(source: str) -> str:
    return source.split("/", 1)[1] if source.startswith("beir:") and "/" in source else source


def doc_text(doc: dict[str, str], with_title: bool) -> str:
    return f"{doc['title']}\n{doc['text']}" if with_title and doc.get("title") else doc["text"]


def index_key(ds: Dataset, model: str, chunker: ChunkerConfig, with_title: bool, vectors: dict[str, Any]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for doc_id, doc in ds.corpus.items():
        h.update(doc_id.encode())
        h.update(doc_text(doc, with_title).encode())
    from pisteur.text import analysis

    analyzer = getattr(analysis, "ANALYZER_VERSION", "0")  # the FTS5 terms change with the analyser
    h.update(json.dumps([model, chunker.to_manifest(), with_title, vectors, analyzer], sort_keys=True).encode())
    return h.hexdigest()


def build_index(
    ds: Dataset,
    embedder: Any,
    *,
    chunker: ChunkerConfig | None = None,
    with_title: bool = False,
    vectors: dict[str, Any] | None = None,
    root: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BuiltIndex:
    from pisteur.embed.cache import CachedEmbedder

    chunker = chunker or ChunkerConfig()
    vectors = vectors or {"index": "flat", "precision": "float32"}
    key = index_key(ds, embedder.name, chunker, with_title, vectors)
    path = (root or cache_dir() / "bench") / f"{ds.name}-{key}"
    done = path / DONE
    if done.exists():
        return _reuse(path)
    # Build in a private folder, then rename: two bench runs building the same index never clobber each
    # other, and an interrupted build leaves only a stale ``.building-*`` folder behind.
    final = path
    path = final.with_name(f"{final.name}.building-{os.getpid()}")
    if path.exists():
        shutil.rmtree(path)
    t0 = time.perf_counter()
    cached = embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)
    misses0 = cached.misses
    store = LocalStore(path, readonly=False)
    from pisteur.indexer import wanted_manifest

    want = wanted_manifest(embedder, chunker, vectors, {})
    want["bench"] = {"dataset": ds.name, "path": str(ds.path), "with_title": with_title}
    items = list(ds.corpus.items())
    with store.writer() as w:
        w.set_manifest(want)
        store._vec = None
        store.refresh()
        for start in range(0, len(items), BATCH):
            _write_batch(w, ds.name, items[start : start + BATCH], chunker, embedder, cached, with_title)
            w.commit()
            if progress:
                progress(min(start + BATCH, len(items)), len(items))
    seconds = time.perf_counter() - t0
    stats = store.stats()
    store.close()
    (path / DONE).write_text(json.dumps({"seconds": seconds, "manifest_schema": mf.SCHEMA_VERSION}))
    if not _publish(path, final):
        return _reuse(final)
    return BuiltIndex(final, seconds, seconds, False, stats["chunks"], stats["bytes_on_disk"],
                      cached.misses - misses0)


def _write_batch(w: Any, name: str, part: list[tuple[str, dict[str, str]]], chunker: ChunkerConfig,
                 embedder: Any, cached: Any, with_title: bool) -> None:
    """Chunk a batch of documents, embed all their chunks at once (through the cache), store each document."""
    per_doc = []
    for doc_id, doc in part:
        seg = Segment(text=doc_text(doc, with_title), kind=KIND_DOCUMENT,
                      meta={"doc_id": doc_id, "title": doc.get("title", "")})
        per_doc.append((doc_id, chunk_segments([seg], chunker, embedder.count_tokens)))
    texts = [c.text for _, chs in per_doc for c in chs]
    vecs = cached.embed_documents(texts)
    pos = 0
    for doc_id, chs in per_doc:
        state = SourceState(path=source_path(name, doc_id), size=0, mtime_ns=0, fingerprint="", reader="beir")
        w.upsert_source(state, chs, vecs[pos : pos + len(chs)])
        pos += len(chs)


def _publish(building: Path, final: Path) -> bool:
    """Rename the finished build to its final name; False when another run published the same index first
    (this build is then dropped)."""
    if final.exists() and not (final / DONE).exists():  # left by an interrupted build of an older version
        shutil.rmtree(final, ignore_errors=True)
    try:
        os.rename(building, final)
    except OSError:  # another run finished the same index first: use theirs
        shutil.rmtree(building, ignore_errors=True)
        return False
    return True


def _reuse(path: Path) -> BuiltIndex:
    info = json.loads((path / DONE).read_text())
    store = LocalStore(path)
    stats = store.stats()
    store.close()
    return BuiltIndex(path, 0.0, info["seconds"], True, stats["chunks"], stats["bytes_on_disk"], 0)
