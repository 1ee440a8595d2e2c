"""Tune the offline reranker's linear weights on piaf-dev (coordinate ascent on the train half), report
train / held-out test / all.

    nice python bench/piaf_rerank_tune.py [--depth 30] [--piaf DIR]   # DIR default: $PISTEUR_EVAL_DIR/piaf-dev

First stage = the default fusion (z-score, e5 1.0 + BM25 1.0, top 100 per list). The reranker re-scores the
top ``depth`` candidates with features from ``pisteur.retrieve.rerank.features``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import command_line, write_result  # noqa: E402
from piaf_common import add_piaf_argument, load  # noqa: E402
from piaf_tune import N, norm_list, ranks  # noqa: E402

from pisteur.evaluate.beir import split_queries  # noqa: E402
from pisteur.retrieve.rerank.features import FEATURES, combine, text_features  # noqa: E402
from pisteur.text.analysis import analyze, analyze_query  # noqa: E402

GRID = [-0.5, -0.25, 0, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--no-use", action="store_true")
    add_piaf_argument(ap)
    args = ap.parse_args()
    ds, doc_ids, texts, qids, qtexts, mats, vecs, bm = load(args.piaf)
    pos = {d: i for i, d in enumerate(doc_ids)}
    gold = np.array([pos[next(d for d, g in ds.qrels[q].items() if g > 0)] for q in qids])
    tr = set(split_queries(qids, "train"))
    train = np.array([i for i, q in enumerate(qids) if q in tr])
    test = np.array([i for i, q in enumerate(qids) if q not in tr])
    R = {k: ranks(v) for k, v in mats.items()}
    F = norm_list(mats["e5"], R["e5"], "zscore") + norm_list(mats["bm25"], R["bm25"], "zscore")
    D = args.depth
    cand = np.argsort(-F, axis=1, kind="stable")[:, :D]
    seqs = [analyze(t) for t in texts]
    feats = []
    bm_in = R["bm25"] < N
    for qi in range(len(qids)):
        c = cand[qi]
        qt = analyze_query(qtexts[qi])
        f = text_features(qt, [seqs[j] for j in c])
        f["dense"] = mats["e5"][qi, c]
        f["use"] = mats["use"][qi, c]
        b = mats["bm25"][qi]
        floor = b[bm_in[qi]].min() if bm_in[qi].any() else 0.0
        f["bm25"] = np.where(bm_in[qi, c], b[c], floor)
        f["fused"] = F[qi, c]
        feats.append(f)
    gold_pos = np.array(
        [int(np.where(cand[i] == gold[i])[0][0]) if gold[i] in cand[i] else -1 for i in range(len(qids))]
    )

    def score(w: dict[str, float], rows: np.ndarray) -> float:
        tot = 0.0
        for i in rows:
            g = gold_pos[i]
            if g < 0:
                continue
            s = combine(feats[i], w)
            r = int((s > s[g]).sum() + (s[:g] == s[g]).sum())  # ties: first-stage order
            if r < 10:
                tot += 1 / np.log2(r + 2)
        return tot / len(rows)

    from pisteur.retrieve.rerank.offline import DEFAULT_WEIGHTS, USE_WEIGHTS

    for label, sw in (("shipped DEFAULT_WEIGHTS", DEFAULT_WEIGHTS), ("shipped USE_WEIGHTS", USE_WEIGHTS)):
        print(label, {k: round(score(sw, r), 4) for k, r in (("train", train), ("test", test))})
    names = [f for f in FEATURES if f != "expansion" and not (args.no_use and f == "use")]
    base = {"fused": 1.0}
    print("first stage (fused) ", {k: round(score(base, r), 4) for k, r in (("train", train), ("test", test))})
    w = {n: (1.0 if n == "fused" else 0.0) for n in names}
    best = score(w, train)
    for it in range(3):
        improved = False
        for n in names:
            for v in GRID:
                cand_w = dict(w, **{n: v})
                s = score(cand_w, train)
                if s > best + 1e-6:
                    best, w, improved = s, cand_w, True
        print(f"round {it}: train {best:.4f} w={w}", flush=True)
        if not improved:
            break
    allr = np.arange(len(qids))
    out = {k: round(score(w, r), 4) for k, r in (("train", train), ("test", test), ("all", allr))}
    print("TUNED", out, w)
    print(write_result(f"piaf_rerank_tune-depth{D}", command_line(), {"depth": D, "weights": w, "ndcg@10": out}),
          file=sys.stderr)


if __name__ == "__main__":
    main()
