"""sms-dev hard recall@k (the SMS abbreviation task of bench/piaf_sms_pipeline.py, held-out split: the SMS
dictionary mined on one half, targets of the other) with and without the index tuned to the 500 SMS alone.

    python bench/tune_sms.py SMS_DEV [--k 20] [--model e5]

The SMS are indexed in a temporary folder deleted at the end; no message is printed or kept. Writes
bench/results/tune_sms.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from piaf_sms_pipeline import build, score  # noqa: E402
from sms_expansion import QUERIES, load_pairs, mined_dictionary, targets  # noqa: E402
from tune_common import tune, write_result  # noqa: E402

from pisteur.embed import load_embedder  # noqa: E402
from pisteur.embed.cache import CachedEmbedder  # noqa: E402
from pisteur.evaluate.qcache import QueryCachedEmbedder  # noqa: E402
from pisteur.retrieve.expand import Dictionaries, load_dictionaries  # noqa: E402
from pisteur.store import open_store  # noqa: E402
from pisteur.tune.pipeline import TuneOptions  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--model", default="e5")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--steps", default="calibrate,adapter", help="tuning steps (the adapter is opt-in in the product)")
    ap.add_argument("--calib-queries", type=int, default=None, help="train queries per calibration trial")
    ap.add_argument("--name", default="tune_sms")
    args = ap.parse_args()
    pairs = load_pairs(args.folder)
    emb = load_embedder(args.model, workers=1)
    cached = CachedEmbedder(emb)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        idx = Path(tmp) / "idx"
        build(idx, emb, cached, [p["raw"] for p in pairs])
        opts = TuneOptions(steps=tuple(args.steps.split(",")))
        if args.calib_queries:
            opts.calib.max_queries = args.calib_queries
        report, seconds = tune(idx, emb, Path(tmp) / "tuning", opts)
        results["tuning"] = {k: v for k, v in report.items() if k != "set"} | {"set": report["set"],
                                                                               "seconds": round(seconds, 1)}
        store = open_store(idx)
        qemb = QueryCachedEmbedder(emb)
        tq = {q: set(targets(pairs, q)) for q in QUERIES}
        configs = {"default": {"tuning": False}, "default tuned": {"tuning": str(Path(tmp) / "tuning")}}
        for name, opts in configs.items():
            f, t, a, _, _ = score(store, qemb, pairs, tq, opts, args.k)
            results[f"all | {name}"] = {"found": f, "targets": t, "recall": round(f / t, 4)}
            print(f"all targets | {name:15s} | {f}/{t} = {f / t:.1%}", flush=True)
        ids = list(range(len(pairs)))
        random.Random(args.seed).shuffle(ids)
        halves = set(ids[: len(ids) // 2]), set(ids[len(ids) // 2 :])
        keep = [d for name, d in load_dictionaries(user=False).dicts.items() if name != "sms"]
        for label, train, test in (("A→B", halves[0], halves[1]), ("B→A", halves[1], halves[0])):
            mined = mined_dictionary([pairs[i] for i in sorted(train)])
            dicts = Dictionaries([*keep, *mined.dicts.values()])
            for name, opts in configs.items():
                f, t, a, _, _ = score(store, qemb, pairs, tq, opts, args.k, only=test, dicts=dicts)
                results[f"held-out {label} | {name}"] = {"found": f, "targets": t, "recall": round(f / t, 4)}
                print(f"held-out {label} | {name:15s} | {f}/{t} = {f / t:.1%}", flush=True)
        store.close()
    cached.close()
    out = write_result(args.name, "python bench/tune_sms.py " + " ".join(sys.argv[1:]), results)
    print(f"written {out}")


if __name__ == "__main__":
    main()
