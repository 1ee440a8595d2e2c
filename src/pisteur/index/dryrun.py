"""``pisteur index --dry-run``: what a run would do and how long it would take, writing nothing.

Every file to (re)read is read and chunked (so the chunk count is real and the read phase is timed), and the
chosen model embeds a small sample of those chunks to measure its rate on this machine; the dense time
is the number of distinct chunk texts divided by that rate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pisteur import ingest
from pisteur.chunk import ChunkerConfig, chunk_segments
from pisteur.index.plan import plan
from pisteur.store.base import text_hash
from pisteur.types import KIND_THINKING, KIND_TOOL_RESULT, SkipFile

SAMPLE = 32


@dataclass
class DryRun:
    model: str
    files: int = 0
    bytes: int = 0
    unchanged: int = 0
    chunks: int = 0
    distinct_texts: int = 0
    chunks_by_kind: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    read_seconds: float = 0.0
    sample_chunks: int = 0
    chunks_per_second: float | None = None
    dense_seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        return d


def _known(index_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Manifest and sources of an existing index, read-only (nothing created)."""
    if not (index_dir / "index.sqlite").exists():
        return {}, {}
    from pisteur.store.local import LocalStore

    store = LocalStore(index_dir, readonly=True)
    try:
        return store.manifest(), store.sources()
    finally:
        store.close()


def _rate(embedder: Any, pool: list[str]) -> tuple[int, float | None]:
    if not pool:
        return 0, None
    sample = pool
    embedder.embed_documents(sample[:2])  # loads the model: not part of the rate
    t0 = time.perf_counter()
    embedder.embed_documents(sample)
    return len(sample), len(sample) / max(time.perf_counter() - t0, 1e-6)


def dry_run(index_dir: Path, paths: Sequence[Path], *, model: str | None = None,
            model_options: dict[str, Any] | None = None, chunker: ChunkerConfig | None = None,
            include_tool_results: bool = True, include_thinking: bool = True) -> DryRun:
    from pisteur.indexer import _resolve_embedder
    from pisteur.ingest.self_echo import keep_segment

    existing, known = _known(Path(index_dir))
    embedder, _ = _resolve_embedder(existing, model, model_options)
    chunker = chunker or ChunkerConfig(**{k: v for k, v in (existing.get("chunker") or {}).items()
                                          if k in ("size", "overlap", "version")})
    skip = {k for k, keep in ((KIND_TOOL_RESULT, include_tool_results), (KIND_THINKING, include_thinking))
            if not keep}
    out = DryRun(model=embedder.name)
    files, skipped = ingest.discover([Path(p).expanduser().resolve() for p in paths])
    out.skipped = [(str(p), r) for p, r in skipped]
    items = list(plan(files, known, int(getattr(ingest, "READER_VERSION", 0))))
    todo = [x for x in items if x.action != "same"]
    out.unchanged, out.files, out.bytes = len(items) - len(todo), len(todo), sum(x.bytes_to_read for x in todo)
    hashes: set[str] = set()
    pool: list[str] = []
    rng = random.Random(0)
    t0 = time.perf_counter()
    for item in todo:
        try:
            result = ingest.read(item.path, item.reader, start_offset=item.from_offset or 0)
            segs = [s for s in result.segments if s.kind not in skip and keep_segment(s)]
            chunks = chunk_segments(segs, chunker, embedder.count_tokens)
        except (SkipFile, OSError) as exc:
            out.skipped.append((str(item.path), str(exc)))
            continue
        for c in chunks:
            out.chunks_by_kind[c.kind] = out.chunks_by_kind.get(c.kind, 0) + 1
            hashes.add(text_hash(c.text))
            out.chunks += 1
            if len(pool) < SAMPLE:  # reservoir sample: the rate is measured on texts like the whole run's
                pool.append(c.text)
            elif (j := rng.randrange(out.chunks)) < SAMPLE:
                pool[j] = c.text
    out.read_seconds = round(time.perf_counter() - t0, 2)
    out.distinct_texts = len(hashes)
    out.sample_chunks, rate = _rate(embedder, pool)
    if rate:
        out.chunks_per_second = round(rate, 2)
        out.dense_seconds = round(len(hashes) / rate, 1)
    close = getattr(embedder, "close", None)
    if close:
        close()
    return out
