"""The retrieval entry point: ``search(store, embedder, query, k=10, filters=None, **options)``.

First increment: dense retrieval only (query embedding -> store.dense_search -> store.get).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pisteur.store.base import Filters
from pisteur.types import Hit


@dataclass
class SearchResult:
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    expansions: list[Any] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


def search(
    store: Any,
    embedder: Any,
    query: str,
    *,
    k: int = 10,
    filters: Filters | None = None,
    **options: Any,
) -> SearchResult:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    qvec = embedder.embed_queries([query])[0]
    t1 = time.perf_counter()
    timings["embed"] = t1 - t0
    ranked = store.dense_search(qvec, k, filters)
    t2 = time.perf_counter()
    timings["dense"] = t2 - t1
    hits = store.get([i for i, _ in ranked])
    by_id = {h.id: h for h in hits}
    out: list[Hit] = []
    for rank, (cid, score) in enumerate(ranked, 1):
        h = by_id.get(cid)
        if h is None:
            continue
        h.score = float(score)
        h.explain = {"dense": {"rank": rank, "score": float(score)}}
        out.append(h)
    timings["get"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0
    return SearchResult(hits=out, timings=timings, options={"mode": "dense"})
