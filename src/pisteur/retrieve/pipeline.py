"""The retrieval entry point: ``search(store, embedder, query, k=10, filters=None, **options)``.

Stages: query expansion (shipped + user dictionaries) -> first stage (dense list from the index model,
BM25 list over the analysed query, BM25 list over the expansion terms) -> fusion -> second stage (rerank of
the top ``rerank_depth`` candidates) -> hits, with ``Hit.explain`` saying which stage scored what.

Defaults (``DEFAULTS``) were chosen by measurement on the train half of piaf-dev and on the sms-dev
abbreviation task (``bench/piaf_tune.py``, ``bench/piaf_rerank_tune.py``, ``bench/piaf_sms_pipeline.py``,
``pisteur bench``; see docs/retrieval.md and docs/bench/retrieval.md): z-score weighted fusion of the dense
list (1.0), the BM25 list over the query *and* its expansions (1.5) and the BM25 list over the expansions alone
(1.0), missing candidates filled with their exact scores, then the offline reranker over the top 30.
Every option can be overridden per search:

``mode``           ``hybrid`` | ``dense`` | ``lexical``
``fusion``         ``weighted`` | ``rrf``
``norm``           ``zscore`` | ``minmax`` (weighted fusion)
``weights``        ``{"dense": w, "lexical": w, "expansion": w}`` (a missing name keeps its default)
``rrf_k``          RRF constant (60)
``expand``         bool: dictionary expansion (adds the ``expansion`` list and the rerank feature)
``expand_dense``   bool: also embed the query with its expansions appended and fuse that list (slower)
``expand_lexical`` ``list``: expansion terms make their own BM25 list; ``merge``: they join the query's BM25
                   list; ``both``
``fill``           ``all`` | ``dense`` | ``lexical`` | ``none``: in weighted fusion, candidates missing from a
                   list get their exact score instead of the list's floor: the cosine from the stored
                   vector (dense list), 0 for a BM25 list that returned fewer than ``candidates`` hits
                   (``lexical`` fills the query's BM25 list, ``all`` the expansion list too)
``rerank``         ``offline`` | ``offline+use`` | ``none``/False | any reranker spec (``cross-encoder:PATH``,
                   ``tei:URL``...)
``rerank_depth``   candidates re-scored (30)
``candidates``     size of each first-stage list (100)
``query_vector``   the query's vector if the caller already embedded it with the index model
``overlap``        bool: expansion and BM25 run in a worker thread while the query is embedded (same results)
``lean``           query-dependent dense weight: when the query's content words lie inside dictionary forms
                   that fired (``Expansion.dictionary_share()`` above ``lean_from``), the dense weight (fusion
                   and offline rerank) is scaled down linearly, by up to ``lean`` (0.75) when every content
                   word is one ("rendez-vous", "tkt"): the variants are in the lexical lists, while the dense
                   model only sees the standard form. 0 turns it off
``lean_from``      share of the query's content words below which nothing changes (0.5)
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pisteur.retrieve import fusion as fz
from pisteur.retrieve.analysis import analyze, analyze_query
from pisteur.retrieve.concepts import match as concept_match
from pisteur.retrieve.concepts import rank as concept_rank
from pisteur.retrieve.dedupe import finish
from pisteur.store.base import Filters
from pisteur.types import Hit

DEFAULTS: dict[str, Any] = {
    "mode": "hybrid",
    "fusion": "weighted",
    "norm": "zscore",
    "weights": {"dense": 1.0, "lexical": 1.5, "expansion": 1.0, "dense_expanded": 0.5},
    "rrf_k": 60.0,
    "expand": True,
    "expand_dense": False,
    "expand_lexical": "both",
    "fill": "all",
    "rerank": "offline",
    "rerank_depth": 30,
    "candidates": 100,
    "query_vector": None,  # the query already embedded by the caller (same model): not embedded again
    "overlap": True,
    "lean": 0.75,
    "lean_from": 0.5,
    "dictionaries": None,  # extra dictionary files/folders (TOML) merged over the shipped and user ones
    "concepts": True,  # concept queries ("message insultant") rank what IS the concept: retrieve/concepts.py
}
MODES = ("hybrid", "dense", "lexical")
EXPLAIN_EXPANSIONS = 20  # hits whose matched expansions are listed in ``explain``


@dataclass
class SearchResult:
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, and "total"
    expansions: list[Any] = field(default_factory=list)  # the dictionary rules applied (Expansion.applied)
    options: dict[str, Any] = field(default_factory=dict)  # the options in effect
    expansion: Any = None  # the full Expansion (terms, phrases) or None

    def to_json(self) -> dict[str, Any]:
        return {
            "hits": [h.to_json() for h in self.hits],
            "timings_ms": {k: round(v * 1000, 2) for k, v in self.timings.items()},
            "expansions": self.expansions,
            "options": self.options,
        }


def resolve_options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown search option(s): {', '.join(sorted(unknown))} (known: {', '.join(DEFAULTS)})")
    opts = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    opts["weights"] = {**DEFAULTS["weights"], **(options.get("weights") or {})}
    if opts["mode"] not in MODES:
        raise ValueError(f"unknown mode '{opts['mode']}' ({', '.join(MODES)})")
    if opts["fill"] is True:
        opts["fill"] = "all"
    if opts["fill"] not in ("none", "dense", "lexical", "all", False, None):
        raise ValueError(f"unknown fill '{opts['fill']}' (all, dense, lexical, none)")
    if opts["expand_lexical"] not in ("list", "merge", "both"):
        raise ValueError(f"unknown expand_lexical '{opts['expand_lexical']}' (list, merge, both)")
    if opts["fusion"] not in ("weighted", "rrf"):
        raise ValueError(f"unknown fusion '{opts['fusion']}' (weighted, rrf)")
    r = opts["rerank"]
    opts["rerank"] = None if r in (False, None, "none", "off", "no", "") else ("offline" if r is True else r)
    return opts


_EXECUTOR: ThreadPoolExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """One small persistent pool for the lexical side of searches (threads are reused: no start-up cost)."""
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pisteur-lexical")
        return _EXECUTOR


def dense_scale(exp: Any, lean: float, lean_from: float) -> float:
    """The factor on the dense weight for this query (1.0 = unchanged); see the ``lean`` option."""
    if exp is None or not lean or not exp.applied:
        return 1.0
    share = float(exp.dictionary_share())
    ramp = 1.0 if lean_from >= 1.0 else min(1.0, max(0.0, (share - lean_from) / (1.0 - lean_from)))
    return 1.0 - float(lean) * ramp


def _expand(query: str, dictionaries: Any = None) -> Any:
    try:
        from pisteur.retrieve.expand import expand_query
    except ImportError:  # pragma: no cover - the expansion module ships with the package
        return None
    return expand_query(query, dictionaries)


def search(
    store: Any,
    embedder: Any,
    query: str,
    *,
    k: int = 10,
    filters: Filters | None = None,
    **options: Any,
) -> SearchResult:
    opts = resolve_options(options)
    mode, n = opts["mode"], max(int(opts["candidates"]), k)
    weights = opts["weights"]
    timings: dict[str, float] = {}
    t_start = t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - t
        t = now

    want_dense = mode in ("hybrid", "dense") and embedder is not None
    want_lexical = mode in ("hybrid", "lexical")
    want_exp = opts["expand"] and mode != "dense" or opts["expand_dense"]
    given = opts["query_vector"]
    lists: dict[str, list[tuple[int, float]]] = {}

    def lexical_side() -> tuple[Any, dict[str, list[tuple[int, float]]], dict[str, float]]:
        """Expansion, then the BM25 lists: (expansion, lists, seconds per stage). Touches no shared state,
        so it can run in a worker thread (the store's SQLite connection allows it and releases the GIL)."""
        t0 = time.perf_counter()
        exp = _expand(query, opts["dictionaries"]) if want_exp else None
        t1 = time.perf_counter()
        out: dict[str, list[tuple[int, float]]] = {}
        if want_lexical:
            added = [term for term, _, origin in exp.terms if origin != "query"] if exp is not None else []
            terms = analyze_query(query)
            how = opts["expand_lexical"]
            use_exp = bool(added) and opts["expand"]
            if use_exp and how in ("merge", "both"):
                terms = list(dict.fromkeys([*terms, *added]))
            out["lexical"] = store.lexical_search(terms, n, filters) if terms else []
            if use_exp and how in ("list", "both"):
                out["expansion"] = store.lexical_search(added, n, filters)
        return exp, out, {"expand": t1 - t0, "lexical": time.perf_counter() - t1}

    def embed(exp: Any) -> np.ndarray:
        qtexts = [query]
        if exp is not None and opts["expand_dense"] and exp.applied:
            qtexts.append(exp.dense_text())
        if given is not None and len(qtexts) == 1:
            return np.asarray(given, np.float32).reshape(1, -1)
        qv = np.asarray(embedder.embed_queries(qtexts), np.float32)
        if given is not None:
            qv[0] = np.asarray(given, np.float32).reshape(-1)
        return qv

    qv = None
    if want_dense and (want_lexical or want_exp) and given is None and not opts["expand_dense"] and opts["overlap"]:
        # Overlap: expansion + BM25 run in a worker thread while the query is embedded here (~15-19 ms on
        # CPU, the model releases the GIL). The embedder stays on the caller's thread (some wrap a
        # thread-bound SQLite cache); the store is used by one thread at a time (dense search waits).
        pending = _executor().submit(lexical_side)
        try:
            t0 = time.perf_counter()
            qv = embed(None)
            timings["embed"] = time.perf_counter() - t0
        finally:
            exp, lex, stage = pending.result()  # also waits when the embedding raised
        timings.update(stage)
        lists.update(lex)
        t = time.perf_counter()
        lap("wait")
    else:
        exp, lex, stage = lexical_side()
        timings.update(stage)
        lists.update(lex)
        t = time.perf_counter()
        if want_dense:
            qv = embed(exp)
            lap("embed")
    qvec = None
    if qv is not None:
        qvec = np.asarray(qv[0], np.float32)
        lists["dense"] = store.dense_search(qvec, n, filters)
        if len(qv) > 1:
            lists["dense_expanded"] = store.dense_search(np.asarray(qv[1], np.float32), n, filters)
        lap("dense")
    order = ("dense", "dense_expanded", "lexical", "expansion")  # fusion breaks ties by list order
    lists = {name: lists[name] for name in order if name in lists}
    scale = dense_scale(exp, opts["lean"], opts["lean_from"]) if opts["expand"] and mode == "hybrid" else 1.0
    if scale != 1.0:
        weights = {**weights, **{d: weights.get(d, 1.0) * scale for d in ("dense", "dense_expanded")}}
    active = {name: lst for name, lst in lists.items() if lst and weights.get(name, 1.0) != 0}
    if len(active) == 1:
        fused = list(next(iter(active.values())))
    elif active:
        fill: dict[str, dict[int, float]] | None = None
        how_fill = opts["fill"]
        if how_fill not in ("none", False, None) and opts["fusion"] == "weighted":
            fill = {}
            union = list(dict.fromkeys(i for lst in active.values() for i, _ in lst))
            if qvec is not None and "dense" in active and how_fill in ("dense", "all"):
                have = {i for i, _ in active["dense"]}
                missing = [i for i in union if i not in have]
                if missing:
                    try:
                        vecs = np.asarray(store.vectors(missing), np.float32)
                        fill["dense"] = dict(zip(missing, (vecs @ qvec).tolist(), strict=True))
                    except (KeyError, NotImplementedError, AttributeError):  # a store without them: floor
                        pass
            names = {"lexical": ("lexical",), "all": ("lexical", "expansion")}.get(how_fill, ())
            for name in names:
                if name in active and len(active[name]) < n:  # exhausted: every other chunk has BM25 = 0
                    have = {i for i, _ in active[name]}
                    fill[name] = {i: 0.0 for i in union if i not in have}
        fused = fz.by_name(active, weights, opts["fusion"], rrf_k=opts["rrf_k"], norm=opts["norm"], fill=fill)
    else:
        fused = []
    lap("fuse")
    concept = concept_match(query) if opts["concepts"] and fused else None
    if concept is not None:  # a concept query ("message insultant"): what IS the concept first, no rerank
        fused = concept_rank(concept, fused, store, embedder if want_dense else None, n, filters)
        lap("concepts")
    reranker = None
    if opts["rerank"] and fused and concept is None:
        from pisteur.retrieve.rerank import RerankContext, get_reranker

        reranker = get_reranker(opts["rerank"])
    depth = min(len(fused), int(opts["rerank_depth"])) if reranker else 0
    head_ids = [i for i, _ in fused[: max(k, depth)]]
    hits_by_id = {h.id: h for h in store.get(head_ids)}
    head = [hits_by_id[i] for i in head_ids if i in hits_by_id]
    lap("get")
    fused_score = dict(fused)
    rerank_scores: dict[int, float] = {}
    if reranker is not None and head and depth:
        ctx = RerankContext(store, embedder, qvec, lists, fused_score, exp, dense_scale=scale)
        top = head[:depth]
        scores = np.asarray(reranker.rerank(query, top, ctx), np.float64)
        order = sorted(range(len(top)), key=lambda j: (-scores[j], j))
        rerank_scores = {top[j].id: float(scores[j]) for j in range(len(top))}
        head = [top[j] for j in order] + head[depth:]  # below the reranked depth: first-stage order
        lap("rerank")
    ranks = {name: {cid: (r, s) for r, (cid, s) in enumerate(lst, 1)} for name, lst in lists.items()}
    out: list[Hit] = []
    floor = min(rerank_scores.values()) if rerank_scores else 0.0
    explain_terms: dict[int, set[str]] = {}
    if exp is not None and exp.applied:
        from pisteur.retrieve.rerank.offline import doc_terms

        shown = head[: min(k, EXPLAIN_EXPANSIONS)]
        explain_terms = {h.id: set(t) for h, t in zip(shown, doc_terms(store, shown), strict=True)}
    for h in head[:k]:
        explain: dict[str, Any] = {}
        for name, rk in ranks.items():
            if h.id in rk:
                r, s = rk[h.id]
                explain[name] = {"rank": r, "score": round(float(s), 6)}
        explain["fused"] = round(float(fused_score.get(h.id, 0.0)), 6)
        if h.id in rerank_scores:
            explain["rerank"] = {"by": reranker.name, "score": round(rerank_scores[h.id], 6)}  # type: ignore[union-attr]
        if h.id in explain_terms:
            terms_here = explain_terms[h.id]
            matched = [
                f"{a['from']} → {t}"
                for a in exp.applied
                for t in a["to"]
                if (tt := analyze(t)) and set(tt) <= terms_here
            ]
            if matched:
                explain["expansions"] = matched[:8]
        if not rerank_scores:
            h.score = fused_score.get(h.id, 0.0)
        elif h.id in rerank_scores:
            h.score = rerank_scores[h.id]
        else:  # below the reranked depth: keep the order, scores stay below the reranked ones
            h.score = floor - 1e-6 * (len(out) + 1)
        h.explain = explain
        out.append(h)
    lap("explain")
    timings["total"] = time.perf_counter() - t_start
    return finish(store, SearchResult(
        hits=out,
        timings=timings,
        expansions=list(exp.applied) if exp is not None else [],
        options={
            **{k: v for k, v in opts.items() if k != "query_vector"},
            "rerank": opts["rerank"] or "none",
            "dense_scale": round(scale, 4),
        },
        expansion=exp,
    ))
