"""Tune first-stage fusion on piaf-dev (train half of the queries), report train / held-out test / all.

    nice python bench/piaf_tune.py [--piaf DIR]          # DIR default: $PISTEUR_EVAL_DIR/piaf-dev

Each retriever contributes its top-N list (N = 100, as the pipeline asks the store for), then lists are
fused with RRF or normalised weighted fusion. Metric: nDCG@10 (piaf has one judged passage per query).
Fusion and nDCG are computed on whole score matrices here (vectorised, for the grid search); a test pins both
to the product's ``pisteur.retrieve.fusion`` and ``pisteur.evaluate.metrics``. Writes
``bench/results/piaf_tune.json``.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import command_line, write_result  # noqa: E402
from piaf_common import add_piaf_argument, load  # noqa: E402

from pisteur.evaluate.beir import split_queries  # noqa: E402

N = 100


def ranks(S: np.ndarray) -> np.ndarray:
    order = np.argsort(-S, axis=1, kind="stable")
    R = np.empty_like(order)
    R[np.arange(S.shape[0])[:, None], order] = np.arange(S.shape[1])[None, :]
    return R


def norm_list(S: np.ndarray, R: np.ndarray, how: str) -> np.ndarray:
    inl = R < N
    if how == "rrf":
        return np.where(inl, 1.0 / (60 + R + 1), 0.0)
    Sm = np.where(inl, S, np.nan)
    if how == "minmax":
        lo, hi = np.nanmin(Sm, 1, keepdims=True), np.nanmax(Sm, 1, keepdims=True)
        out = (S - lo) / np.maximum(hi - lo, 1e-12)
        return np.where(inl, out, 0.0)
    mu, sd = np.nanmean(Sm, 1, keepdims=True), np.nanstd(Sm, 1, keepdims=True)
    z = (S - mu) / np.maximum(sd, 1e-12)
    zmin = np.nanmin(np.where(inl, z, np.nan), 1, keepdims=True)
    return np.where(inl, z, zmin)


def ndcg10(F: np.ndarray, gold: np.ndarray, rows: np.ndarray) -> float:
    g = F[rows, gold[rows]]
    r = (F[rows] >= g[:, None]).sum(1) - 1  # 0-based rank of the gold passage (ties: pessimistic)
    return float(np.where(r < 10, 1 / np.log2(r + 2), 0).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_piaf_argument(ap)
    args = ap.parse_args()
    ds, doc_ids, texts, qids, qtexts, mats, vecs, bm = load(args.piaf)
    pos = {d: i for i, d in enumerate(doc_ids)}
    gold = np.array([pos[next(d for d, g in ds.qrels[q].items() if g > 0)] for q in qids])
    train = np.array([i for i, q in enumerate(qids) if q in set(split_queries(qids, "train"))])
    test = np.array([i for i, q in enumerate(qids) if q in set(split_queries(qids, "test"))])
    allr = np.arange(len(qids))
    R = {k: ranks(v) for k, v in mats.items()}
    res = {}

    def report(name, F):
        res[name] = {
            f: round(ndcg10(F, gold, rows), 4) for f, rows in (("train", train), ("test", test), ("all", allr))
        }
        print(f"{name:55s} {res[name]}", flush=True)

    for k in mats:
        report(k, mats[k])
    names = list(mats)
    grid = [0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3]
    for how in ("rrf", "minmax", "zscore"):
        normed = {k: norm_list(mats[k], R[k], how) for k in names}
        best = (-1, None)
        for w in itertools.product(grid, repeat=len(names)):
            if sum(w) == 0:
                continue
            F = sum(wi * normed[k] for wi, k in zip(w, names, strict=True))
            s = ndcg10(F, gold, train)
            if s > best[0]:
                best = (s, w)
        for w in ([1, 0, 1], [1, 1, 1]):
            F = sum(wi * normed[k] for wi, k in zip(w, names, strict=True))
            report(f"{how} w={dict(zip(names, w, strict=True))}", F)
        w = best[1]
        F = sum(wi * normed[k] for wi, k in zip(w, names, strict=True))
        report(f"{how} TUNED w={dict(zip(names, w, strict=True))}", F)
    print(write_result("piaf_tune", command_line(), {"ndcg@10": res}), file=sys.stderr)


if __name__ == "__main__":
    main()
