"""10M x 1024 without a 40 GB float32 file: generate (as ``scale_data.py``), feed the index, keep ground truth.

Not a test. Streams blocks of realistic vectors (see ``scale_data.py``) straight into a binary + int8
index (flushing a segment every ``--flush-every`` rows), while an exact float32 top-100 of every query is
maintained over the same stream. Then measures search like ``scale_bench.py`` (fresh child process).

    nice -n 10 python bench/scale_10m.py --n 10000000 --work WORK/10m
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, write_result  # noqa: E402
from scale_data import Generator, Truth, queries_from, real_vectors  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--block", type=int, default=100_000)
    ap.add_argument("--flush-every", type=int, default=500_000)
    ap.add_argument("--search-only", action="store_true")
    args = ap.parse_args()
    data = args.work / "data"
    data.mkdir(parents=True, exist_ok=True)
    if not args.search_only:
        from pisteur.store import vectors_quant
        from pisteur.store.vectors import open_vector_index

        vectors_quant.COMPACT_SEGMENTS = 64
        passages, real_q, _, _ = real_vectors()
        gen = Generator(passages)
        q = queries_from(real_q, args.queries)
        truth = Truth(q)
        idx = open_vector_index(args.work / "bin-i8", 1024, 0,
                                {"index": "binary", "precision": "binary", "rescore": "int8"})
        t0 = time.perf_counter()
        t_index = 0.0
        g = 0
        for start in range(0, args.n, args.block):
            x = gen.block(start, min(args.block, args.n - start))
            truth.update(start, x)
            t1 = time.perf_counter()
            idx.add(np.arange(start, start + len(x), dtype=np.int64), x)
            if (start + len(x)) % args.flush_every == 0 or start + len(x) == args.n:
                g += 1
                idx.flush(g)
                print(f"{start + len(x)} rows, generation {g}, {time.perf_counter() - t0:.0f} s", flush=True)
            t_index += time.perf_counter() - t1
        np.save(data / "queries.npy", q)
        np.save(data / "truth.npy", truth.result())
        meta = {"n": args.n, "generation": g, "total_s": round(time.perf_counter() - t0, 1),
                "index_s": round(t_index, 1), "disk_mb": round(idx.nbytes() / 2**20, 1)}
        (args.work / "build.json").write_text(json.dumps(meta))
        print(json.dumps(meta), flush=True)
        del idx
    meta = json.loads((args.work / "build.json").read_text())
    bench = Path(__file__).parent / "scale_bench.py"
    runs = []
    for variant in ({"candidates": 6000, "rescore_k": 2000}, {"candidates": 16000, "rescore_k": 3000},
                    {"candidates": 6000, "rescore_k": 2000, "threads": 1}):
        out = subprocess.run([sys.executable, str(bench), "--child", "search", "bin-i8", str(meta["generation"]),
                              json.dumps(variant), str(args.queries), "--data", str(data), "--work",
                              str(args.work)], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r.update(n=meta["n"], disk_mb=meta["disk_mb"], build_s=meta["index_s"])
        print(json.dumps(r), flush=True)
        runs.append({"variant": variant, **r})
    print(write_result(f"scale_10m-{args.n}", command_line(), {"build": meta, "runs": runs}), file=sys.stderr)


if __name__ == "__main__":
    main()
