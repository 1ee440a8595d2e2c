"""Which synthetic query kinds make a tuning that helps real questions: the tuning (calibration + query
adapter) made from (a) today's default kinds, (b) rule-made questions only (``question``), (c) both, each
scored on real questions, dense alone and the default pipeline, step by step (untuned, calibration,
adapter, both).

    python bench/tune_questions.py PIAF_DEV --cache DIR [--also FAQ_SET] [--variants today,question,both]

The main set is scored on its ``train`` half of questions by default (the development half: the ``test``
half is kept for final figures). ``--also`` scores a second set on all its questions, for the variants in
``--also-variants`` (a set that chose nothing, such as bench/data/debian-faq-fr). Writes
bench/results/tune_questions.json (``--name`` to change).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import argparse
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from tune_common import index_of, load_avg, step_folders, tune, write_result  # noqa: E402

from pisteur.evaluate.beir import load_dataset, split_queries  # noqa: E402
from pisteur.evaluate.runner import PrecomputedQueries, embed_queries_timed, parse_config, run_config  # noqa: E402
from pisteur.store import open_store  # noqa: E402
from pisteur.tune.pipeline import TuneOptions  # noqa: E402
from pisteur.tune.synth import MakeOptions  # noqa: E402

TODAY = ("cloze", "title", "keywords", "sms", "standard")  # the default kinds before "question"
VARIANTS: dict[str, tuple[str, ...]] = {
    "today": TODAY,
    "question": ("question",),
    "both": (*TODAY, "question"),
}


def score_set(path: Path, split: str, variants: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Tune one set's index with each variant's kinds and score every step on its real questions."""
    ds = load_dataset(path)
    emb, cached, index = index_of(ds, args.model, args.cache)
    judged = ds.judged_queries()
    ids = split_queries(list(judged), split)
    qs = {q: judged[q] for q in ids}
    vecs, secs = embed_queries_timed(emb, list(qs.values()))
    qemb = PrecomputedQueries(emb, vecs)
    per_query: dict[tuple[str, str, str], dict[str, float]] = {}
    out: dict[str, Any] = {"dataset": ds.name, "split": split, "questions": len(qs), "variants": {},
                           "question_examples": examples(ds)}
    for variant in variants:
        folder = index.with_name(f"{index.name}.tune-{variant}")
        opts = TuneOptions(make=MakeOptions(kinds=VARIANTS[variant], max_queries=args.max_queries, seed=args.seed))
        report, seconds = tune(index, emb, folder, opts)
        print(f"{ds.name}: tuned '{variant}' in {seconds:.0f} s (load {load_avg()})", flush=True)
        steps = {k: (str(v) if v else False) for k, v in step_folders(folder).items()}
        store = open_store(index)
        scores: dict[str, dict[str, dict[str, float]]] = {}
        for preset in args.configs.split(","):
            for step, tuning in steps.items():
                if step == "untuned" and variant != variants[0]:
                    per_query[(variant, preset, step)] = per_query[(variants[0], preset, step)]
                    scores.setdefault(preset, {})[step] = out["variants"][variants[0]]["scores"][preset][step]
                    continue
                cfg = parse_config(preset)
                cfg.options["tuning"] = tuning
                r = run_config(cfg, store, qemb, qs, ds.qrels, secs, depth=100)
                per_query[(variant, preset, step)] = r.per_query["ndcg@10"]
                m = {"ndcg@10": round(r.metrics["ndcg@10"], 4), "recall@10": round(r.metrics["recall@10"], 4)}
                scores.setdefault(preset, {})[step] = m
                print(f"  {variant:9s} {preset:8s} {step:20s} nDCG@10 {m['ndcg@10']:.4f}  R@10 {m['recall@10']:.4f}",
                      flush=True)
        store.close()
        out["variants"][variant] = {"kinds": list(VARIANTS[variant]), "tune_seconds": round(seconds, 1),
                                    "scores": scores, "tuning": report}
    cached.close()
    out["paired"] = paired(per_query, variants)
    return out


_WITHOUT_ADAPTER = {"adapter": "untuned", "calibration+adapter": "calibration", "calibration": "calibration"}


def paired(per_query: dict[tuple[str, str, str], dict[str, float]], variants: list[str]) -> dict[str, Any]:
    """nDCG@10 differences per question, paired: each tuned step against untuned and against the first
    variant's same step, mean and 95 % bootstrap interval (2000 resamples of the questions)."""
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    for (variant, preset, step), scores in per_query.items():
        if step == "untuned":
            continue
        qids = sorted(scores)
        idx = rng.integers(0, len(qids), (2000, len(qids)))
        # a step the first variant lacks (its adapter not kept) is what it falls back to
        same = step if (variants[0], preset, step) in per_query else _WITHOUT_ADAPTER[step]
        for against, key in (("untuned", (variant, preset, "untuned")), (variants[0], (variants[0], preset, same))):
            if key[0] == variant and against != "untuned":
                continue
            d = np.array([scores[q] - per_query[key][q] for q in qids])
            lo, hi = np.percentile(d[idx].mean(axis=1), [2.5, 97.5])
            out.setdefault(preset, {}).setdefault(f"{variant}:{step}", {})[f"vs {against}"] = [
                round(float(d.mean()), 4), round(float(lo), 4), round(float(hi), 4)]
    return out


def examples(ds: Any, n: int = 12) -> list[str]:
    """A few rule-made questions from the set's passages, for the record."""
    from pisteur.tune.questions import question

    rng = random.Random(0)
    docs = sorted(ds.corpus)
    out: list[str] = []
    for d in rng.sample(docs, min(len(docs), 4 * n)):
        q = question(ds.corpus[d]["text"], rng)
        if q and len(out) < n:
            out.append(q)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--model", default="e5onnx:multilingual-e5-small")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--configs", default="default,dense")
    ap.add_argument("--variants", default="today,question,both")
    ap.add_argument("--split", choices=("train", "test", "all"), default="train")
    ap.add_argument("--also", type=Path, default=None, help="a second set, scored on all its questions")
    ap.add_argument("--also-variants", default="question")
    ap.add_argument("--max-queries", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="tune_questions")
    args = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    results: dict[str, Any] = {"model": args.model, "main": score_set(args.dataset, args.split,
                                                                      args.variants.split(","), args)}
    write_result(args.name, "", results)  # the main set's figures are kept if the second set fails
    if args.also is not None:
        results["also"] = score_set(args.also, "all", args.also_variants.split(","), args)
    results.update({"wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - c0, 1),
                    "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                    "load_end": load_avg()})
    out = write_result(args.name, "python bench/tune_questions.py " + " ".join(sys.argv[1:]), results)
    print(f"written {out}")


if __name__ == "__main__":
    main()
