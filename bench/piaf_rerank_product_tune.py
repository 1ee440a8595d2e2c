"""Fit the offline reranker's weights on the *product* first stage (the default pipeline without rerank, on the
bench index of piaf-dev with the product chunker), by coordinate ascent on the train half of the queries;
report the held-out half. Document-level: chunks are re-ordered, then documents deduplicated.

    nice python bench/piaf_rerank_product_tune.py [--depth 30] [--piaf DIR]   # default $PISTEUR_EVAL_DIR/piaf-dev
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import command_line, eval_path, write_result  # noqa: E402

from pisteur.embed import load_embedder  # noqa: E402
from pisteur.evaluate.beir import load_dataset, split_queries  # noqa: E402
from pisteur.evaluate.index import build_index, doc_id_of  # noqa: E402
from pisteur.evaluate.metrics import ndcg_at  # noqa: E402
from pisteur.evaluate.qcache import QueryCachedEmbedder  # noqa: E402
from pisteur.retrieve.pipeline import search  # noqa: E402
from pisteur.retrieve.rerank import register_reranker  # noqa: E402
from pisteur.retrieve.rerank.features import combine  # noqa: E402
from pisteur.retrieve.rerank.offline import DEFAULT_WEIGHTS, OfflineReranker  # noqa: E402
from pisteur.store import open_store  # noqa: E402

GRID = [-1, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6]
RECORDED: list = []


class Recorder:
    name = "record"

    def __init__(self) -> None:
        self.inner = OfflineReranker()

    def rerank(self, query, hits, context=None):
        RECORDED.append(([h.meta.get("doc_id") or doc_id_of(h.source) for h in hits],
                         self.inner.features(query, hits, context)))
        return -np.arange(len(hits), dtype=np.float64)  # keep the first-stage order


register_reranker("record")(lambda arg, **o: Recorder())


def ndcg_doc(order_docs: list[str], gold: str) -> float:
    """nDCG@10 of the document ranking (chunks deduplicated to their document, first occurrence kept)."""
    return ndcg_at(list(dict.fromkeys(order_docs)), {gold: 1}, 10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--piaf", type=Path, help="piaf-dev in BEIR layout (default: $PISTEUR_EVAL_DIR/piaf-dev)")
    args = ap.parse_args()
    ds = load_dataset(eval_path(args.piaf, "piaf-dev"))
    e5 = load_embedder("e5", workers=1)
    built = build_index(ds, e5)
    store = open_store(built.path)
    emb = QueryCachedEmbedder(e5)
    qs = ds.judged_queries()
    qids = list(qs)
    gold = {q: next(d for d, g in ds.qrels[q].items() if g > 0) for q in qids}
    for q in qids:
        search(store, emb, qs[q], k=args.depth, rerank="record", rerank_depth=args.depth)
    data = list(zip(qids, RECORDED, strict=True))
    train = set(split_queries(qids, "train"))

    def score(w: dict[str, float], fold: str) -> float:
        vals = []
        for q, (docs, feats) in data:
            if (fold == "train") != (q in train) and fold != "all":
                continue
            s = combine(feats, w)
            order = sorted(range(len(docs)), key=lambda j: (-s[j], j))
            vals.append(ndcg_doc([docs[j] for j in order], gold[q]))
        return float(np.mean(vals))

    first = {"fused": 1.0}
    report = {"first stage": {f: round(score(first, f), 4) for f in ("train", "test", "all")},
              "shipped": {f: round(score(DEFAULT_WEIGHTS, f), 4) for f in ("train", "test", "all")}}
    print(report, flush=True)
    names = ["dense", "bm25", "fused", "coverage", "phrase", "proximity", "expansion"]
    w = {n: DEFAULT_WEIGHTS.get(n, 0.0) for n in names}
    best = score(w, "train")
    for it in range(3):
        improved = False
        for n in names:
            for v in GRID:
                cand = dict(w, **{n: float(v)})
                s = score(cand, "train")
                if s > best + 1e-6:
                    best, w, improved = s, cand, True
        print(f"round {it}: train {best:.4f} {w}", flush=True)
        if not improved:
            break
    report["tuned"] = {f: round(score(w, f), 4) for f in ("train", "test", "all")}
    report["weights"] = w
    print(json.dumps(report, indent=1))
    print(write_result(f"piaf_rerank_product_tune-depth{args.depth}", command_line(), report), file=sys.stderr)


if __name__ == "__main__":
    main()
