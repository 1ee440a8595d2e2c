"""End-to-end tuning time of one index (synthetic queries, calibration, adapter) on this machine.

    python bench/tune_time.py DATASET [--model usem3] [--cache DIR]

DATASET: a BEIR folder whose corpus is indexed first (not timed; re-used from the bench cache). Writes
bench/results/tune_time.json with the time of each step and the load average before and after.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from tune_common import index_of, load_avg, tune, write_result  # noqa: E402

from pisteur.evaluate.beir import load_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--model", default="usem3")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--steps", default="calibrate,adapter", help="steps timed (default in the product: calibrate)")
    ap.add_argument("--name", default="tune_time")
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    emb, cached, index = index_of(ds, args.model, args.cache)
    out = index.with_name(index.name + ".tune-timing")
    shutil.rmtree(out, ignore_errors=True)
    before = load_avg()
    from pisteur.tune.pipeline import TuneOptions

    report, seconds = tune(index, emb, out, TuneOptions(steps=tuple(args.steps.split(","))))
    cached.close()
    steps = {"make": report["set"]["seconds"], "calibration": report.get("calibration", {}).get("seconds"),
             "adapter_training": report.get("adapter", {}).get("seconds")}
    path = write_result(args.name, "python bench/tune_time.py " + " ".join(sys.argv[1:]), {
        "dataset": ds.name, "documents": len(ds.corpus), "model": emb.name, "seconds": round(seconds, 1),
        "steps_seconds": steps, "load_before": before, "load_after": load_avg(), "set": report["set"]})
    print(f"{len(ds.corpus)} documents tuned in {seconds:.0f} s; written {path}")


if __name__ == "__main__":
    main()
