"""An in-memory replica of the product's lexical score — SQLite FTS5's ``bm25()`` over the store's analysed
terms — for tuning scripts that need every query x document score at once (a grid search over fusion weights
scores 1,513 queries thousands of times; asking the store each time would take hours).

It must stay the store's score: ``tests/test_bench_suite.py::test_bm25_replica_matches_the_store`` indexes
French texts with the product and compares this replica's scores with ``LocalStore.lexical_search``.

FTS5's formula (sqlite.org/fts5.html, "The bm25() function"; Robertson & Zaragoza 2009): for each query term,
``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))`` with ``idf = log((N - n + 0.5) / (n + 0.5))``,
floored at 1e-6 when not positive; k1 = 1.2, b = 0.75; ``dl`` counts a document's terms.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

K1, B = 1.2, 0.75


def fts5_idf(n_docs: int, df: int) -> float:
    v = math.log((n_docs - df + 0.5) / (df + 0.5))
    return v if v > 0 else 1e-6


class Bm25:
    """BM25 over pre-analysed documents (lists of terms, as ``pisteur.retrieve.analysis.analyze`` returns)."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = K1, b: float = B) -> None:
        self.k1, self.b = k1, b
        self.n = len(docs)
        self.tf = [Counter(d) for d in docs]
        self.dl = np.array([len(d) for d in docs], np.float64)
        self.avgdl = float(self.dl.mean()) if self.n else 0.0
        self.post: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        rows: dict[str, list[tuple[int, int]]] = {}
        for i, c in enumerate(self.tf):
            for t, f in c.items():
                rows.setdefault(t, []).append((i, f))
        for t, p in rows.items():
            self.post[t] = (np.array([i for i, _ in p]), np.array([f for _, f in p], np.float64))
        self.idf = {t: fts5_idf(self.n, len(p[0])) for t, p in self.post.items()}

    def scores(self, terms: Sequence[str] | Mapping[str, float], weights: Sequence[float] | None = None) -> np.ndarray:
        """Score of every document for ``terms`` (each term once, as FTS5's OR query counts it), optionally
        weighted per term (a mapping term -> weight, or ``weights`` parallel to ``terms``)."""
        if isinstance(terms, Mapping):
            pairs = list(terms.items())
        else:
            pairs = list(zip(terms, weights if weights is not None else [1.0] * len(terms), strict=True))
        s = np.zeros(self.n)
        seen: set[str] = set()
        for t, w in pairs:
            if t in seen or t not in self.post:
                continue
            seen.add(t)
            ids, tf = self.post[t]
            norm = tf + self.k1 * (1 - self.b + self.b * self.dl[ids] / self.avgdl)
            s[ids] += w * self.idf[t] * tf * (self.k1 + 1) / norm
        return s

    def rank(self, weights: Mapping[str, float]) -> list[int]:
        """Documents with a positive score, best first (ties: document order)."""
        s = self.scores(weights)
        order = np.argsort(-s, kind="stable")
        return [int(i) for i in order if s[i] > 0]
