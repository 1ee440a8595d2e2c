"""The retrieval entry point: ``search(store, embedder, query, k=10, filters=None, options=SearchOptions())``.

Named stages, each a small function returning a typed value:

1. ``make_plan``      what this search does (lists, expansion, overlap), from ``SearchOptions``;
2. ``first_stage``    the query's expansion per source profile, the BM25 lists (query, expansions) and the
                      dense list, the lexical side overlapped with the query's embedding;
3. ``fuse``           z-score weighted fusion (or RRF) of the lists, missing candidates filled with their
                      exact scores, the dense weight leaned on for dictionary-form queries (option ``lean``);
4. ``rerank``         the second stage over the top ``rerank_depth`` candidates (offline signals by default);
5. ``explain``        hits with a typed ``Explain`` (ranks per stage, expansions found in the hit).

Options and their defaults: ``options.py`` (measured on the train half of piaf-dev and on the sms-dev
abbreviation task; see docs/retrieval.md).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pisteur.retrieve import fusion as fz
from pisteur.retrieve.concepts import match as concept_match
from pisteur.retrieve.concepts import rank as concept_rank
from pisteur.retrieve.dedupe import finish
from pisteur.retrieve.expand import Dictionaries, Expansion
from pisteur.retrieve.explain import (
    EXPLAIN_EXPANSIONS,
    Explain,
    RerankScore,
    list_ranks,
    matched_expansions,
)
from pisteur.retrieve.first_stage import (
    LexicalSide,
    Plan,
    QueryEmbedder,
    QueryExpansion,
    Ranked,
    dense_lists,
    embed_query,
    lexical_side,
    make_plan,
)
from pisteur.retrieve.options import DEFAULT_OPTIONS, LIST_NAMES, SearchOptions, Weights
from pisteur.retrieve.tuning import AdaptedEmbedder, tuned_options, tuning_for
from pisteur.store.base import Filters, Store
from pisteur.types import Hit


@dataclass
class SearchResult:
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, and "total"
    expansions: list[dict[str, Any]] = field(default_factory=list)  # the dictionary rules applied (JSON)
    options: dict[str, Any] = field(default_factory=dict)  # the options in effect
    expansion: QueryExpansion | None = None  # the expansion per source profile, or None

    def to_json(self) -> dict[str, Any]:
        return {
            "hits": [h.to_json() for h in self.hits],
            "timings_ms": {k: round(v * 1000, 2) for k, v in self.timings.items()},
            "expansions": self.expansions,
            "options": self.options,
        }


class StageTimer:
    """Seconds per named stage (a stage entered twice adds up), and the total since creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def done(self) -> dict[str, float]:
        return {**self.seconds, "total": time.perf_counter() - self.start}


_EXECUTOR: ThreadPoolExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """One small persistent pool for the lexical side of searches (threads are reused: no start-up cost)."""
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pisteur-lexical")
        return _EXECUTOR


def dense_scale(exp: Expansion | None, lean: float, lean_from: float) -> float:
    """The factor on the dense weight for this query (1.0 = unchanged): when the query's content words lie
    inside dictionary forms that fired (share above ``lean_from``), the dense weight is scaled down linearly,
    by up to ``lean`` when every content word is one ("rendez-vous", "tkt"): the variants are in the lexical
    lists, while the dense model only sees the standard form."""
    if exp is None or not lean or not exp.applied:
        return 1.0
    share = float(exp.dictionary_share())
    ramp = 1.0 if lean_from >= 1.0 else min(1.0, max(0.0, (share - lean_from) / (1.0 - lean_from)))
    return 1.0 - float(lean) * ramp


# -- stage 2: first stage -------------------------------------------------------------------------------
@dataclass
class FirstStage:
    expansion: QueryExpansion | None
    lists: dict[str, Ranked]  # in fusion order (LIST_NAMES)
    query_vector: np.ndarray | None


def first_stage(store: Store, embedder: QueryEmbedder | None, plan: Plan, timer: StageTimer) -> FirstStage:
    qv: np.ndarray | None = None
    if plan.overlapped:
        # Overlap: expansion + BM25 run in a worker thread while the query is embedded here (~15-19 ms on
        # CPU, the model releases the GIL). The embedder stays on the caller's thread (some wrap a
        # thread-bound SQLite cache); the store is used by one thread at a time (dense search waits).
        pending = _executor().submit(lexical_side, store, plan)
        try:
            with timer.stage("embed"):
                qv = embed_query(embedder, plan, None)
        finally:
            with timer.stage("wait"):
                side: LexicalSide = pending.result()  # also waits when the embedding raised
    else:
        side = lexical_side(store, plan)
        if plan.dense:
            with timer.stage("embed"):
                qv = embed_query(embedder, plan, side.expansion)
    for name, secs in side.seconds.items():
        timer.add(name, secs)
    lists = dict(side.lists)
    if qv is not None:
        with timer.stage("dense"):
            lists.update(dense_lists(store, qv, plan))
    ordered = {name: lists[name] for name in LIST_NAMES if name in lists}
    return FirstStage(side.expansion, ordered, None if qv is None else np.asarray(qv[0], np.float32))


# -- stage 3: fusion -------------------------------------------------------------------------------------
@dataclass
class Fused:
    ranking: Ranked
    dense_scale: float


def _fill(store: Store, plan: Plan, first: FirstStage, active: Mapping[str, Ranked]) -> dict[str, dict[int, float]]:
    """Exact scores of candidates missing from a list: stored-vector cosine (dense), 0 for an exhausted BM25
    list (it returned fewer than ``candidates``, so every other chunk scores 0)."""
    how = plan.options.fill
    fill: dict[str, dict[int, float]] = {}
    union = list(dict.fromkeys(i for lst in active.values() for i, _ in lst))
    if first.query_vector is not None and "dense" in active and how in ("dense", "all"):
        have = {i for i, _ in active["dense"]}
        missing = [i for i in union if i not in have]
        if missing:
            try:
                vecs = np.asarray(store.vectors(missing), np.float32)
                fill["dense"] = dict(zip(missing, (vecs @ first.query_vector).tolist(), strict=True))
            except (KeyError, NotImplementedError, AttributeError):  # a store without them: the floor
                pass
    for name in {"lexical": ("lexical",), "all": ("lexical", "expansion")}.get(how, ()):
        if name in active and len(active[name]) < plan.candidates:
            have = {i for i, _ in active[name]}
            fill[name] = {i: 0.0 for i in union if i not in have}
    return fill


def fuse(store: Store, plan: Plan, first: FirstStage) -> Fused:
    o = plan.options
    exp = first.expansion.widest() if first.expansion is not None else None
    scale = dense_scale(exp, o.lean, o.lean_from) if o.expand and o.mode == "hybrid" else 1.0
    weights: Weights = o.weights.scaled_dense(scale) if scale != 1.0 else o.weights
    active = {name: lst for name, lst in first.lists.items() if lst and weights.get(name) != 0}
    if len(active) <= 1:
        return Fused(list(next(iter(active.values()), [])), scale)
    fill = _fill(store, plan, first, active) if o.fill != "none" and o.fusion == "weighted" else None
    ranking = fz.by_name(active, weights.as_dict(), o.fusion, rrf_k=o.rrf_k, norm=o.norm, fill=fill)
    return Fused(ranking, scale)


# -- stage 4: second stage -------------------------------------------------------------------------------
@dataclass
class Reranked:
    head: list[Hit]  # the hits shown and the reranked depth, in final order
    scores: dict[int, float]  # second-stage score per reranked chunk id
    by: str | None  # the reranker's name, None when none ran


def rerank(
    store: Store, embedder: QueryEmbedder | None, plan: Plan, first: FirstStage, fused: Fused, timer: StageTimer
) -> Reranked:
    o = plan.options
    reranker = None
    if o.reranks and fused.ranking:
        from pisteur.retrieve.rerank import get_reranker

        reranker = get_reranker(o.rerank)
    depth = min(len(fused.ranking), o.rerank_depth) if reranker is not None else 0
    with timer.stage("get"):
        head_ids = [i for i, _ in fused.ranking[: max(plan.k, depth)]]
        by_id = {h.id: h for h in store.get(head_ids)}
        head = [by_id[i] for i in head_ids if i in by_id]
    if reranker is None or not head or not depth:
        return Reranked(head, {}, None)
    from pisteur.retrieve.rerank import RerankContext

    with timer.stage("rerank"):
        exp = first.expansion
        ctx = RerankContext(
            store, embedder, first.query_vector, first.lists, dict(fused.ranking),
            exp.widest() if exp is not None else None, dense_scale=fused.dense_scale,
            expansion_for=exp.for_kind if exp is not None and not exp.uniform() else None,
        )
        top = head[:depth]
        scores = np.asarray(reranker.rerank(plan.query, top, ctx), np.float64)
        order = sorted(range(len(top)), key=lambda j: (-scores[j], j))
        # below the reranked depth: first-stage order
        return Reranked([top[j] for j in order] + head[depth:], {top[j].id: float(scores[j]) for j in order},
                        reranker.name)


# -- stage 5: explain ------------------------------------------------------------------------------------
def explain(store: Store, plan: Plan, first: FirstStage, fused: Fused, second: Reranked) -> list[Hit]:
    """The top ``k`` hits with their final score and ``Explain`` (as JSON in ``Hit.explain``)."""
    ranks = list_ranks(first.lists)
    fused_score = dict(fused.ranking)
    fused_rank = {cid: r for r, (cid, _) in enumerate(fused.ranking, 1)}
    rerank_rank = {cid: r for r, cid in enumerate(second.scores, 1)}
    hits = second.head[: plan.k]
    terms = _hit_terms(store, first.expansion, hits[:EXPLAIN_EXPANSIONS])
    floor = min(second.scores.values()) if second.scores else 0.0
    for n, h in enumerate(hits, 1):
        rr = None
        if h.id in second.scores:
            rr = RerankScore(second.by or "", second.scores[h.id], rerank_rank[h.id])
        exp = first.expansion.for_kind(h.kind) if first.expansion is not None else None
        h.explain = Explain(
            lists={name: rk[h.id] for name, rk in ranks.items() if h.id in rk},
            fused=fused_score.get(h.id, 0.0),
            fused_rank=fused_rank.get(h.id, 0),
            rerank=rr,
            expansions=matched_expansions(exp, terms[h.id]) if h.id in terms else (),
        ).to_json()
        if not second.scores:
            h.score = fused_score.get(h.id, 0.0)
        elif rr is not None:
            h.score = rr.score
        else:  # below the reranked depth: keep the order, scores stay below the reranked ones
            h.score = floor - 1e-6 * n
    return hits


def _hit_terms(store: Store, exp: QueryExpansion | None, hits: list[Hit]) -> dict[int, set[str]]:
    if exp is None or not exp.applied or not hits:
        return {}
    from pisteur.retrieve.rerank.offline import doc_terms

    return {h.id: set(t) for h, t in zip(hits, doc_terms(store, hits), strict=True)}


# -- the whole search ------------------------------------------------------------------------------------
def search(
    store: Store,
    embedder: QueryEmbedder | None,
    query: str,
    *,
    k: int = 10,
    filters: Filters | None = None,
    options: SearchOptions | None = None,
    query_vector: Any = None,
    dictionaries: Dictionaries | None = None,
    **overrides: Any,
) -> SearchResult:
    """Search ``store`` for ``query``. ``options``: the typed options (default: the product's);
    ``overrides``: option names and values applied over them (``SearchOptions.merged``: unknown names and
    bad values raise ``ValueError``). ``query_vector``: the query already embedded by the caller with the
    index model (not embedded again). ``dictionaries``: a loaded dictionary set to expand with instead of
    the shipped, user and ``options.dictionaries`` ones (benchmarks swap in a mined dictionary)."""
    opts = (options or DEFAULT_OPTIONS).merged(overrides)
    tuning = tuning_for(store, opts.tuning)  # ``pisteur eval tune``: option overrides and a query adapter
    tuned: dict[str, Any] = {}
    if tuning is not None:
        opts, tuned = tuned_options(opts, DEFAULT_OPTIONS, tuning.overrides, overrides)
        if tuning.adapter is not None:
            embedder = AdaptedEmbedder(embedder, tuning.adapter) if embedder is not None else None
            query_vector = None if query_vector is None else tuning.adapter.apply(query_vector)
    timer = StageTimer()
    plan = make_plan(query, k, filters, opts, embedder, query_vector, dictionaries)
    first = first_stage(store, embedder, plan, timer)
    with timer.stage("fuse"):
        fused = fuse(store, plan, first)
    concept = concept_match(query) if opts.concepts and fused.ranking else None
    if concept is not None:  # a concept query ("message insultant"): what IS the concept first, no rerank
        with timer.stage("concepts"):
            ranking = concept_rank(concept, fused.ranking, store, embedder if plan.dense else None,
                                   plan.candidates, plan.filters)
        fused = Fused(ranking, fused.dense_scale)
        plan = dataclasses.replace(plan, options=plan.options.merged({"rerank": "none"}))
    second = rerank(store, embedder, plan, first, fused, timer)
    with timer.stage("explain"):
        hits = explain(store, plan, first, fused, second)
    exp = first.expansion
    return finish(store, SearchResult(
        hits=hits,
        timings=timer.done(),
        expansions=[a.to_json() for a in exp.applied] if exp is not None else [],
        options={**opts.to_json(), "dense_scale": round(fused.dense_scale, 4), "tuned": tuned,
                 "adapter": tuning is not None and tuning.adapter is not None},
        expansion=exp,
    ))


__all__ = ["SearchResult", "StageTimer", "dense_scale", "explain", "first_stage", "fuse", "rerank", "search"]
