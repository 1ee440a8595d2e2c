"""Scale bench of the vector layer: build time, disk, resident RAM, p50/p95 latency, recall@10 vs exact float.

Not a test. Needs the data of ``bench/scale_data.py``. Each index is built in a child process and searched in
another fresh one, so resident memory is the search process's own (``VmRSS``: anonymous memory + the pages of
memory-mapped files it touched; ``RssAnon`` alone is reported too).

    nice -n 10 python bench/scale_bench.py --data DATA/1m --work WORK/idx-1m --builds bin-i8 i8 --queries 200

Builds (one index directory each) and the search variants run on them:

- ``f32`` / ``f16`` / ``i8``: QuantVectors at that precision, searched ``flat`` (exact scan) and ``binary``
  (Hamming top-R over the sign bits kept beside, rescored from the fine codes);
- ``bin-i8``: precision binary, rescoring from int8 (R = 100/200/400) and without rescoring;
- ``ivf-i8`` / ``hnsw-i8``: faiss IVF-SQ8 / HNSW-SQ8 + int8 rescoring.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, write_result  # noqa: E402

BUILDS = {
    "f32": {"index": "flat", "precision": "float32", "quantized": True},
    "f16": {"index": "flat", "precision": "float16"},
    "i8": {"index": "flat", "precision": "int8"},
    "bin-i8": {"index": "binary", "precision": "binary", "rescore": "int8"},
    "bin-f16": {"index": "binary", "precision": "binary", "rescore": "float16"},
    "ivf-i8": {"index": "ivf", "precision": "int8"},
    "hnsw-i8": {"index": "hnsw", "precision": "int8", "m": 16, "ef_construction": 40},
}
VARIANTS = {
    "f32": [{"search": "flat"}, {"search": "binary"}],
    "f16": [{"search": "flat"}],
    "i8": [{"search": "flat"}, {"search": "binary"}],
    "bin-i8": [{"candidates": 2000, "rescore_k": 400}, {"candidates": 4000, "rescore_k": 800},
               {"candidates": 4000, "rescore_k": 1500}, {"candidates": 6000, "rescore_k": 2000},
               {"candidates": 8000, "rescore_k": 2000}, {"rescore": "none"}, {"threads": 1}],
    "bin-f16": [{"candidates": 4000, "rescore_k": 1500}, {"candidates": 8000, "rescore_k": 2000}],
    "ivf-i8": [{"nprobe": 16, "rescore_k": 200}, {"nprobe": 64, "rescore_k": 500}],
    "hnsw-i8": [{"ef_search": 64, "rescore_k": 200}, {"ef_search": 256, "rescore_k": 500}],
}
BLOCK = 100_000


def _mem() -> dict[str, int]:
    out = {}
    for line in open("/proc/self/status"):
        key, _, val = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(val.split()[0]) * 1024
    return out


def build(data: Path, work: Path, name: str) -> dict:
    from pisteur.store import vectors_quant
    from pisteur.store.vectors import open_vector_index

    vectors_quant.COMPACT_SEGMENTS = 64  # one segment per 100k block; no compaction during the bench build
    corpus = np.load(data / "corpus.f32.npy", mmap_mode="r")
    d = work / name
    shutil.rmtree(d, ignore_errors=True)
    t0 = time.perf_counter()
    idx = open_vector_index(d, corpus.shape[1], 0, BUILDS[name])
    g = 0
    for start in range(0, len(corpus), BLOCK):
        block = np.asarray(corpus[start : start + BLOCK])
        idx.add(np.arange(start, start + len(block), dtype=np.int64), block)
        g += 1
        idx.flush(g)
    return {"build": name, "n": len(corpus), "build_s": round(time.perf_counter() - t0, 1), "generation": g,
            "disk_mb": round(idx.nbytes() / 2**20, 1), "peak_rss_mb": round(_mem()["VmHWM"] / 2**20)}


def search(data: Path, work: Path, name: str, generation: int, variant: dict, nq: int) -> dict:
    from pisteur.store.vectors import open_vector_index

    queries = np.load(data / "queries.npy")[:nq]
    truth = np.load(data / "truth.npy")[:nq, :10]
    dims = queries.shape[1]
    cfg = dict(BUILDS[name])
    extra = dict(variant)
    if "search" in extra:
        cfg["index"] = {"flat": "flat", "binary": "binary"}[extra.pop("search")]
    cfg.update(extra)
    base = _mem()
    t0 = time.perf_counter()
    idx = open_vector_index(work / name, dims, generation, cfg)
    idx.search(queries[0], 10)  # first query builds the in-RAM shards
    open_s = time.perf_counter() - t0
    lat, rec = [], []
    for q, t in zip(queries, truth, strict=True):
        t1 = time.perf_counter()
        ids, _ = idx.search(q, 10)
        lat.append((time.perf_counter() - t1) * 1000)
        rec.append(len(set(ids.tolist()) & set(t.tolist())) / 10)
    mem = _mem()
    return {"build": name, "variant": variant, "queries": nq, "open_s": round(open_s, 2),
            "p50_ms": round(float(np.percentile(lat, 50)), 2), "p95_ms": round(float(np.percentile(lat, 95)), 2),
            "recall@10": round(float(np.mean(rec)), 4),
            "rss_mb": round((mem["VmRSS"] - base["VmRSS"]) / 2**20),
            "anon_mb": round((mem["RssAnon"] - base["RssAnon"]) / 2**20),
            "threads": variant.get("threads", os.environ.get("PISTEUR_THREADS", "all"))}


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--builds", nargs="+", default=["bin-i8", "i8"])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--flat-queries", type=int, default=40, help="fewer queries for exact scans")
    ap.add_argument("--keep", action="store_true", help="keep the index directories")
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        kind, name, *rest = args.child
        if kind == "build":
            print(json.dumps(build(args.data, args.work, name)))
        else:
            gen, variant = int(rest[0]), json.loads(rest[1])
            print(json.dumps(search(args.data, args.work, name, gen, variant, int(rest[2]))))
        return
    rows = []
    for name in args.builds:
        b = _child("build", name, "--data", str(args.data), "--work", str(args.work))
        print(json.dumps(b), flush=True)
        rows.append({"build": name, **b})
        for v in VARIANTS[name]:
            nq = args.flat_queries if v.get("search", BUILDS[name]["index"]) == "flat" else args.queries
            r = _child("search", name, str(b["generation"]), json.dumps(v), str(nq), "--data", str(args.data),
                       "--work", str(args.work))
            r.update(disk_mb=b["disk_mb"], build_s=b["build_s"], n=b["n"])
            print(json.dumps(r), flush=True)
            rows.append({"build": name, "variant": v, **r})
        if not args.keep:
            shutil.rmtree(args.work / name, ignore_errors=True)
    print(write_result(f"scale_bench-{args.data.name}", command_line(), {"runs": rows}), file=sys.stderr)


if __name__ == "__main__":
    main()
