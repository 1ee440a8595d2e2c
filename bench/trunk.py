"""Trunk benchmarks: indexing throughput, warm/cold search latency, disk per chunk, re-index time.

Run by hand, not in CI:  python bench/trunk.py [--piaf DIR] [--sessions DIR] [--quick]
(piaf-dev: ``--piaf`` or $PISTEUR_EVAL_DIR/piaf-dev; sessions: bench/data/claude-sessions by default).
Writes ``bench/results/trunk.json``.
Prints a JSON summary and a Markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DATA_DIR, command_line, eval_path, write_result

from pisteur.embed import load_embedder
from pisteur.indexer import index_paths
from pisteur.retrieve.pipeline import search
from pisteur.store import open_store
from pisteur.store.base import SourceState
from pisteur.store.local import LocalStore
from pisteur.types import Chunk

# multilingual-e5-small: 12 layers, hidden 384, FFN 1536 -> ~21.3M non-embedding parameters
E5_BODY_PARAMS = 12 * (4 * 384 * 384 + 2 * 384 * 1536)


def cpu_peak_gflops(cores: int) -> tuple[float, str]:
    """fp32 FMA peak: cores x GHz x FLOP/cycle (2 FMA pipes x vector width x 2)."""
    info = Path("/proc/cpuinfo").read_text()
    mhz = [float(x) for x in re.findall(r"cpu MHz\s*:\s*([\d.]+)", info)]
    ghz = (max(mhz) / 1000) if mhz else 2.0
    flags = re.search(r"flags\s*:(.*)", info)
    f = flags.group(1).split() if flags else []
    width = 16 if "avx512f" in f else 8 if "avx2" in f else 4
    # AMD Zen 4 executes 512-bit FMAs as two 256-bit halves: 32 FLOP/cycle either way.
    per_cycle = 32 if width >= 8 else 16
    return cores * ghz * per_cycle, f"{cores} cores x {ghz:.2f} GHz x {per_cycle} FLOP/cycle"


def piaf_texts(piaf: Path, n: int) -> list[str]:
    rows = [json.loads(line) for line in open(piaf / "corpus.jsonl", encoding="utf-8")]
    return [r["text"] for r in rows[:n]]


def bench_indexing(piaf: Path, n: int) -> dict:
    tmp = Path(tempfile.mkdtemp())
    docs = tmp / "docs"
    docs.mkdir()
    for i, t in enumerate(piaf_texts(piaf, n)):
        (docs / f"p{i:05d}.txt").write_text(t, encoding="utf-8")
    os.environ.pop("PISTEUR_CACHE", None)
    out = {}
    for workers in (1, 2):
        idx = tmp / f"idx{workers}"
        emb = load_embedder("e5", workers=workers)
        t = time.perf_counter()
        rep = index_paths(idx, [docs], embedder=emb)
        dt = time.perf_counter() - t
        emb.close()
        flops = 2 * E5_BODY_PARAMS * rep.tokens_embedded
        peak, how = cpu_peak_gflops(os.cpu_count() or 1)
        out[f"workers={workers}"] = {
            "chunks": rep.chunks_embedded, "tokens": rep.tokens_embedded, "seconds": round(dt, 2),
            "chunks_per_s": round(rep.chunks_embedded / dt, 2), "tokens_per_s": round(rep.tokens_embedded / dt, 1),
            "gflops_achieved": round(flops / dt / 1e9, 2), "peak_gflops": round(peak, 1), "peak": how,
            "fraction_of_peak": round(flops / dt / 1e9 / peak, 4),
        }
        st = open_store(idx).stats()
        out[f"workers={workers}"]["bytes_per_chunk"] = round(st["bytes_on_disk"] / max(1, st["chunks"]))
    shutil.rmtree(tmp)
    return out


def synth_index(idx: Path, piaf: Path, n: int, base_texts: int = 300) -> None:
    """n chunks: real piaf passages and real e5 vectors, plus perturbed copies (text suffixed, vector + noise)."""
    emb = load_embedder("e5", workers=2)
    texts = piaf_texts(piaf, base_texts)
    from pisteur.embed.cache import CachedEmbedder

    vecs = CachedEmbedder(emb).embed_documents(texts)
    rng = np.random.default_rng(0)
    s = LocalStore(idx, readonly=False)
    with s.writer() as w:
        w.set_manifest({"engine": "local", "model": {**emb.describe(), "spec": emb.name, "dims": emb.dims,
                        "options": {}}, "chunker": {"size": 256, "overlap": 32, "version": 1},
                        "vectors": {"index": "flat", "precision": "float32"}})
        s._vec = None
        s.refresh()
        per_file = 1000
        for f in range(0, n, per_file):
            m = min(per_file, n - f)
            src = rng.integers(0, len(texts), m)
            noise = rng.normal(0, 0.02, (m, emb.dims)).astype(np.float32)
            v = vecs[src] + noise
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            chunks = [Chunk(text=f"{texts[j]} [copie {f + i}]", kind="document", meta={}, ord=i)
                      for i, j in enumerate(src)]
            w.upsert_source(SourceState(path=f"/synthetic/{f}.txt", size=1, mtime_ns=1, fingerprint="x",
                                        reader="text"), chunks, v)
            w.commit()
    emb.close()


def bench_search(piaf: Path, sizes: list[int]) -> dict:
    out = {}
    queries = [json.loads(line)["text"] for line in open(piaf / "queries.jsonl", encoding="utf-8")]
    queries = queries[:60]
    for n in sizes:
        tmp = Path(tempfile.mkdtemp())
        idx = tmp / "idx"
        t = time.perf_counter()
        synth_index(idx, piaf, n)
        build = time.perf_counter() - t
        store = open_store(idx)
        emb = load_embedder("e5", workers=1)
        qv = emb.embed_queries(queries)
        store.dense_search(qv[0], 10)  # warm
        dense = []
        for q in qv:
            t = time.perf_counter()
            store.get([i for i, _ in store.dense_search(q, 10)])
            dense.append(time.perf_counter() - t)
        full = []
        for q in queries:
            t = time.perf_counter()
            search(store, emb, q, k=10, mode="dense", expand=False, rerank="none")
            full.append(time.perf_counter() - t)
        default = []
        for q in queries:
            t = time.perf_counter()
            search(store, emb, q, k=10)
            default.append(time.perf_counter() - t)
        env = {**os.environ, "PISTEUR_INDEX": str(idx)}
        cold = []
        for q in queries[:5]:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pisteur.cli", "search", q, "--json"], env=env, check=True,
                           capture_output=True)
            cold.append(time.perf_counter() - t)
        st = store.stats()
        out[n] = {
            "build_s": round(build, 1),
            "dense_ms_p50": round(1000 * float(np.percentile(dense, 50)), 2),
            "dense_ms_p95": round(1000 * float(np.percentile(dense, 95)), 2),
            "dense_with_query_embedding_ms_p50": round(1000 * float(np.percentile(full, 50)), 2),
            "dense_with_query_embedding_ms_p95": round(1000 * float(np.percentile(full, 95)), 2),
            "default_pipeline_ms_p50": round(1000 * float(np.percentile(default, 50)), 2),
            "default_pipeline_ms_p95": round(1000 * float(np.percentile(default, 95)), 2),
            "cold_cli_search_s_median": round(float(np.median(cold)), 3),
            "bytes_per_chunk": round(st["bytes_on_disk"] / st["chunks"]),
        }
        emb.close()
        shutil.rmtree(tmp)
    return out


def bench_reindex(src: Path) -> dict:
    tmp = Path(tempfile.mkdtemp())
    idx = tmp / "idx"
    emb = load_embedder("use-m3")  # the first pass only fills the index; the re-index embeds nothing
    t = time.perf_counter()
    first = index_paths(idx, [src], embedder=emb)
    t1 = time.perf_counter() - t
    runs = []
    for _ in range(3):
        env = {**os.environ, "PISTEUR_INDEX": str(idx)}
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pisteur.cli", "index", str(src), "--quiet", "--json"],
                       env=env, check=True, capture_output=True)
        runs.append(time.perf_counter() - t)
    shutil.rmtree(tmp)
    return {"first_index_s": round(t1, 1), "chunks": first.chunks_embedded, "sources": first.added,
            "unchanged_reindex_cli_s": [round(r, 3) for r in runs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--piaf", type=Path, help="piaf-dev in BEIR layout (default: $PISTEUR_EVAL_DIR/piaf-dev)")
    ap.add_argument("--sessions", type=Path, default=DATA_DIR / "claude-sessions", help="Claude Code sessions")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--only", choices=["indexing", "search", "reindex"], action="append")
    a = ap.parse_args()
    only = set(a.only or ["indexing", "search", "reindex"])
    res: dict = {}
    piaf = eval_path(a.piaf, "piaf-dev") if only & {"indexing", "search"} else Path()
    if "indexing" in only:
        res["indexing"] = bench_indexing(piaf, 40 if a.quick else 200)
        print(json.dumps(res["indexing"], indent=1), flush=True)
    if "search" in only:
        res["search"] = bench_search(piaf, [2000] if a.quick else [10_000, 100_000])
        print(json.dumps(res["search"], indent=1), flush=True)
    if "reindex" in only:
        res["reindex"] = bench_reindex(a.sessions)
        print(json.dumps(res["reindex"], indent=1), flush=True)
    print(json.dumps(res, indent=1))
    print(write_result("trunk" + ("-quick" if a.quick else ""), command_line(), res), file=sys.stderr)


if __name__ == "__main__":
    main()
