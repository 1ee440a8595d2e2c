"""Fusion of ranked lists: pure functions, no state.

A ranked list is a sequence of ``(id, score)`` pairs, best first (scores: higher is better). Every function
returns one fused list ``[(id, fused_score)]``, best first, ties broken by first appearance.

* ``rrf``: reciprocal-rank fusion (Cormack et al. 2009), ``sum_l w_l / (k + rank_l(d))``, ranks from 1.
* ``weighted``: normalised score fusion, ``sum_l w_l * norm_l(score_l(d))`` with ``norm`` = ``minmax``
  (over the list, 0..1) or ``zscore`` (mean 0, sd 1 over the list); a document absent from a list gets
  that list's floor (0 for min-max, the list's minimum z for z-score): missing is never better than present.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)
Ranked = Sequence[tuple[K, float]]


def _weights(n: int, weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * n
    if len(weights) != n:
        raise ValueError(f"{len(weights)} weights for {n} ranked lists")
    return [float(w) for w in weights]


def _sorted(acc: dict[K, float], order: dict[K, int]) -> list[tuple[K, float]]:
    return sorted(acc.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def rrf(
    lists: Sequence[Ranked], weights: Sequence[float] | None = None, k: float = 60.0
) -> list[tuple[K, float]]:
    """Weighted reciprocal-rank fusion."""
    w = _weights(len(lists), weights)
    acc: dict[K, float] = {}
    order: dict[K, int] = {}
    for lw, ranked in zip(w, lists, strict=True):
        for rank, (doc, _) in enumerate(ranked, 1):
            order.setdefault(doc, len(order))
            acc[doc] = acc.get(doc, 0.0) + lw / (k + rank)
    return _sorted(acc, order)


def normalize_scores(scores: Sequence[float], method: str = "minmax") -> np.ndarray:
    """Min-max (to 0..1; all equal -> all 1) or z-score (all equal -> all 0) normalisation."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s
    if method == "minmax":
        lo, hi = float(s.min()), float(s.max())
        return np.ones_like(s) if hi - lo <= 1e-12 else (s - lo) / (hi - lo)
    if method == "zscore":
        sd = float(s.std())
        return np.zeros_like(s) if sd <= 1e-12 else (s - s.mean()) / sd
    raise ValueError(f"unknown normalisation '{method}' (minmax, zscore)")


def _stats(scores: Sequence[float], norm: str) -> tuple[float, float]:
    """(shift, scale) such that normalised = (score - shift) / scale, as ``normalize_scores`` does."""
    a = np.asarray(scores, dtype=np.float64)
    if a.size == 0:
        return 0.0, 1.0
    if norm == "minmax":
        lo, hi = float(a.min()), float(a.max())
        return (lo, hi - lo) if hi - lo > 1e-12 else (lo - 1.0, 1.0)
    if norm == "zscore":
        sd = float(a.std())
        return (float(a.mean()), sd) if sd > 1e-12 else (float(a.mean()), 1.0)
    raise ValueError(f"unknown normalisation '{norm}' (minmax, zscore)")


def weighted(
    lists: Sequence[Ranked],
    weights: Sequence[float] | None = None,
    norm: str = "minmax",
    fill: Sequence[Mapping[K, float] | None] | None = None,
) -> list[tuple[K, float]]:
    """Normalised weighted score fusion.

    ``fill[i]`` optionally gives list ``i``'s raw score for documents that are not in it (e.g. the exact
    cosine of a lexical-only hit, from its stored vector); they are normalised with list ``i``'s own
    statistics. Without a fill score, a missing document gets the list's floor.
    """
    w = _weights(len(lists), weights)
    fills = list(fill) if fill is not None else [None] * len(lists)
    if len(fills) != len(lists):
        raise ValueError(f"{len(fills)} fill maps for {len(lists)} ranked lists")
    normed: list[dict[K, float]] = []
    floors: list[float] = []
    stats: list[tuple[float, float]] = []
    order: dict[K, int] = {}
    for ranked in lists:
        ids = [d for d, _ in ranked]
        for d in ids:
            order.setdefault(d, len(order))
        raw = [s for _, s in ranked]
        ns = normalize_scores(raw, norm)
        normed.append(dict(zip(ids, ns.tolist(), strict=True)))
        floors.append(0.0 if norm == "minmax" or ns.size == 0 else float(ns.min()))
        stats.append(_stats(raw, norm))
    acc: dict[K, float] = {}
    for d in order:
        total = 0.0
        for lw, m, fl, fm, (shift, scale) in zip(w, normed, floors, fills, stats, strict=True):
            if d in m:
                total += lw * m[d]
            elif fm is not None and d in fm:
                total += lw * (fm[d] - shift) / scale
            else:
                total += lw * fl
        acc[d] = total
    return _sorted(acc, order)


def fuse(
    lists: Sequence[Ranked],
    method: str = "rrf",
    weights: Sequence[float] | None = None,
    *,
    rrf_k: float = 60.0,
    norm: str = "minmax",
    fill: Sequence[Mapping[K, float] | None] | None = None,
) -> list[tuple[K, float]]:
    if method == "rrf":
        return rrf(lists, weights, rrf_k)
    if method == "weighted":
        return weighted(lists, weights, norm, fill)
    raise ValueError(f"unknown fusion '{method}' (rrf, weighted)")


def by_name(
    lists: Mapping[str, Ranked],
    weights: Mapping[str, float],
    method: str = "rrf",
    *,
    rrf_k: float = 60.0,
    norm: str = "minmax",
    fill: Mapping[str, Mapping[Any, float]] | None = None,
) -> list[tuple[Any, float]]:
    """Fuse named lists with named weights (a list without a weight gets 1, a weight of 0 drops it)."""
    names = [n for n in lists if weights.get(n, 1.0) != 0]
    fills = [(fill or {}).get(n) for n in names]
    return fuse(
        [lists[n] for n in names], method, [weights.get(n, 1.0) for n in names], rrf_k=rrf_k, norm=norm, fill=fills
    )
