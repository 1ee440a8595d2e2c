"""Latency of the default search (expansion + fusion + offline rerank) at ~10k chunks, warm, k=10.

    nice python bench/piaf_speed.py [--chunks 10000] [--queries 200] [--piaf DIR]  # $PISTEUR_EVAL_DIR/piaf-dev

The 10k-chunk index is the piaf-dev bench index (1,584 chunks of real French Wikipedia paragraphs with
their real e5 vectors) copied until it holds ``--chunks`` chunks (each copy is another source), written
through the product store. Queries are piaf-dev questions; each search embeds its query with e5 for real
(nothing cached), then runs the pipeline. Reported: p50/p95 of the whole call and per stage. With
``overlap`` (default) the embedding runs in a worker thread during expansion + BM25, and the ``embed`` stage
is the time left waiting for it; ``overlap=False`` is the sequential pipeline.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from _common import command_line, eval_path, percentile, write_result

from pisteur.chunk import ChunkerConfig
from pisteur.config import cache_dir
from pisteur.embed import load_embedder
from pisteur.evaluate.beir import load_dataset
from pisteur.evaluate.index import build_index
from pisteur.indexer import wanted_manifest
from pisteur.retrieve.pipeline import search
from pisteur.store import open_store
from pisteur.store.base import SourceState
from pisteur.types import Chunk


def make_big(src_dir: Path, dst: Path, target: int, embedder) -> int:
    if (dst / "done").exists():
        return int((dst / "done").read_text())
    src = open_store(src_dir)
    hits = list(src.iter_chunks())
    vecs = src.vectors([h.id for h in hits])
    store = open_store(dst, readonly=False)
    n = 0
    with store.writer() as w:
        w.set_manifest(wanted_manifest(embedder, ChunkerConfig(), {"index": "flat", "precision": "float32"}, {}))
        store._vec = None
        store.refresh()
        copy = 0
        while n < target:
            for h, v in zip(hits, vecs, strict=True):
                if n >= target:
                    break
                ch = Chunk(text=h.text, kind=h.kind, meta={"doc_id": h.meta.get("doc_id"), "copy": copy})
                w.upsert_source(
                    SourceState(path=f"{h.source}#{copy}", size=0, mtime_ns=0, fingerprint="", reader="beir"),
                    [ch],
                    v[None, :],
                )
                n += 1
            copy += 1
            w.commit()
    store.close()
    src.close()
    (dst / "done").write_text(str(n))
    return n


def pct(xs: list[float], p: float) -> float:
    return percentile(xs, p)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--piaf", type=Path, help="piaf-dev in BEIR layout (default: $PISTEUR_EVAL_DIR/piaf-dev)")
    args = ap.parse_args()
    ds = load_dataset(eval_path(args.piaf, "piaf-dev"))
    e5 = load_embedder("e5", workers=1)
    built = build_index(ds, e5)
    big = cache_dir() / "bench" / f"piaf-speed-{args.chunks}-{built.path.name}"
    n = make_big(built.path, big, args.chunks, e5)
    store = open_store(big)
    qs = list(ds.queries.values())[: args.queries]
    configs = {
        "default (expansion + hybrid + offline rerank)": {},
        "default, query embedding not overlapped": {"overlap": False},
        "hybrid + expansion, no rerank": {"rerank": "none"},
        "hybrid, no expansion, no rerank": {"rerank": "none", "expand": False},
        "bm25 only": {"mode": "lexical", "rerank": "none", "expand": False},
        "dense only": {"mode": "dense", "rerank": "none"},
    }
    out = {"chunks": n, "queries": len(qs), "results": {}}
    for q in qs[:10]:  # warm-up: dictionaries, reranker, SQLite pages, e5
        search(store, e5, q, k=10)
    totals_by: dict[str, list[float]] = {name: [] for name in configs}
    stages_by: dict[str, dict[str, list[float]]] = {name: {} for name in configs}
    for i, q in enumerate(qs):  # configurations interleaved per query: the machine's load hits them alike
        names = list(configs) if i % 2 == 0 else list(reversed(configs))
        for name in names:
            t0 = time.perf_counter()
            res = search(store, e5, q, k=10, **configs[name])
            totals_by[name].append((time.perf_counter() - t0) * 1000)
            for s, v in res.timings.items():
                stages_by[name].setdefault(s, []).append(v * 1000)
    for name in configs:
        totals, stages = totals_by[name], stages_by[name]
        row = {
            "p50_ms": round(pct(totals, 50), 2),
            "p95_ms": round(pct(totals, 95), 2),
            "without_embed_p50_ms": round(
                pct([t - e for t, e in zip(totals, stages.get("embed", [0] * len(totals)), strict=True)], 50), 2
            ),
            "stages_p50_ms": {s: round(statistics.median(v), 2) for s, v in stages.items()},
        }
        out["results"][name] = row
        print(
            f"{name:48s} p50 {row['p50_ms']:7.2f} ms  p95 {row['p95_ms']:7.2f} ms  "
            f"(without query embedding p50 {row['without_embed_p50_ms']:.2f} ms)  {row['stages_p50_ms']}",
            flush=True,
        )
    a, b = "default (expansion + hybrid + offline rerank)", "default, query embedding not overlapped"
    diffs = [y - x for x, y in zip(totals_by[a], totals_by[b], strict=True)]
    out["overlap_gain_ms"] = {"median": round(statistics.median(diffs), 2), "mean": round(statistics.mean(diffs), 2)}
    print(f"overlap gain, same query, sequential - overlapped: median {out['overlap_gain_ms']['median']} ms, "
          f"mean {out['overlap_gain_ms']['mean']} ms")
    print(json.dumps(out, indent=1))
    out["tables"] = {"speed": {"columns": ["configuration", "p50 ms", "p95 ms", "p50 without the query embedding"],
                               "rows": [[k, v["p50_ms"], v["p95_ms"], v["without_embed_p50_ms"]]
                                        for k, v in out["results"].items()]}}
    print(write_result(f"piaf_speed-{args.chunks}", command_line(), out), file=sys.stderr)


if __name__ == "__main__":
    main()
