"""First stage of a search: the query's expansion per source profile, the BM25 lists and the dense list.

Every function here is pure apart from the store and embedder calls; the lexical side
(``lexical_side``: expansion + BM25) touches no shared state, so the pipeline can run it in a worker thread
while the query is embedded.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from pisteur.retrieve.expand import Applied, Dictionaries, Expansion, expand_query, resolve_dictionaries
from pisteur.retrieve.options import SearchOptions
from pisteur.retrieve.profiles import profiles_for
from pisteur.store.base import Filters, Store
from pisteur.text.analysis import analyze_query

Ranked = list[tuple[int, float]]


class QueryEmbedder(Protocol):
    """What the search needs of an ``Embedder`` (``pisteur.embed.base``): the query side only."""

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Plan:
    """What one search will do, decided once from the options and the inputs."""

    query: str
    k: int
    candidates: int  # size of each first-stage list (at least k)
    filters: Filters | None
    options: SearchOptions
    dense: bool  # a dense list (an embedder is there and the mode wants one)
    lexical: bool  # BM25 lists
    expand: bool  # dictionary expansion runs
    query_vector: np.ndarray | None  # given by the caller (same model): not embedded again
    dictionaries: Dictionaries | None = None  # a loaded set given by the caller, instead of options.dictionaries

    @property
    def overlapped(self) -> bool:
        """Expansion + BM25 run in a worker thread while the query is embedded here."""
        o = self.options
        return (
            self.dense and (self.lexical or self.expand) and self.query_vector is None
            and not o.expand_dense and o.overlap
        )


def make_plan(
    query: str,
    k: int,
    filters: Filters | None,
    options: SearchOptions,
    embedder: QueryEmbedder | None,
    query_vector: Any,
    dictionaries: Dictionaries | None = None,
) -> Plan:
    qv = None if query_vector is None else np.asarray(query_vector, np.float32).reshape(-1)
    return Plan(
        query=query,
        k=k,
        candidates=max(options.candidates, k),
        filters=filters,
        options=options,
        dense=options.wants_dense and embedder is not None,
        lexical=options.wants_lexical,
        expand=options.wants_expansion,
        query_vector=qv,
        dictionaries=dictionaries,
    )


@dataclass(frozen=True)
class ProfileExpansion:
    profile: str  # a source profile, or "all" when profiles are off
    kinds: tuple[str, ...] | None  # the chunk kinds it searches (None: every kind the filters allow)
    expansion: Expansion

    def added(self) -> tuple[str, ...]:
        return tuple(t for t, _, origin in self.expansion.terms if origin != "query")


@dataclass(frozen=True)
class QueryExpansion:
    """The query's expansion for each source profile it searches (one part when profiles are off)."""

    parts: tuple[ProfileExpansion, ...]

    def widest(self) -> Expansion:
        """The part with the most expansion terms (it decides ``lean`` and ``expand_dense``)."""
        return max(self.parts, key=lambda p: len(p.added())).expansion

    def for_kind(self, kind: str) -> Expansion:
        for p in self.parts:
            if p.kinds is None or kind in p.kinds:
                return p.expansion
        return self.widest()

    @property
    def applied(self) -> list[Applied]:
        seen: dict[tuple[str, str, str], Applied] = {}
        for p in self.parts:
            for a in p.expansion.applied:
                seen.setdefault((a.source, a.form, a.dictionary), a)
        return list(seen.values())

    def uniform(self) -> bool:
        return len({p.added() for p in self.parts}) <= 1

    def groups(self) -> list[tuple[tuple[str, ...] | None, tuple[str, ...]]]:
        """(kinds, added terms) per distinct expansion: one group over every kind when all parts agree."""
        if self.uniform():
            return [(None, self.parts[0].added() if self.parts else ())]
        by_terms: dict[tuple[str, ...], list[str]] = {}
        for p in self.parts:
            by_terms.setdefault(p.added(), []).extend(p.kinds or ())
        return [(tuple(kinds), terms) for terms, kinds in by_terms.items()]

    def to_json(self) -> dict[str, Any]:
        return {p.profile: p.expansion.to_json() for p in self.parts}


def expand(
    query: str, options: SearchOptions, filters: Filters | None, dictionaries: Dictionaries | None = None
) -> QueryExpansion:
    dicts = dictionaries if dictionaries is not None else resolve_dictionaries(options.dictionaries or None)
    if not options.profiles:
        return QueryExpansion((ProfileExpansion("all", None, expand_query(query, dicts)),))
    kinds = list(filters.kinds) if filters is not None and filters.kinds else None
    return QueryExpansion(
        tuple(
            ProfileExpansion(p.name, p.kinds, expand_query(query, dicts, profile=p.name)) for p in profiles_for(kinds)
        )
    )


@dataclass
class LexicalSide:
    expansion: QueryExpansion | None
    lists: dict[str, Ranked] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _restricted(filters: Filters | None, kinds: tuple[str, ...] | None) -> Filters | None:
    if kinds is None:
        return filters
    return dataclasses.replace(filters or Filters(), kinds=list(kinds))


def _search_groups(
    store: Store, groups: Sequence[tuple[tuple[str, ...] | None, Sequence[str]]], n: int, filters: Filters | None
) -> Ranked:
    """One BM25 list from one term list per kind group (groups are disjoint in kinds): merged by score."""
    out: Ranked = []
    for kinds, terms in groups:
        if terms:
            out.extend(store.lexical_search(list(terms), n, _restricted(filters, kinds)))
    if len(groups) > 1:
        out.sort(key=lambda x: -x[1])
    return out[:n]


def lexical_side(store: Store, plan: Plan) -> LexicalSide:
    """Expansion, then the BM25 lists: the query's (with its expansions merged, per ``expand_lexical``)
    and the expansions' own. A profile's expansions only search its profile's kinds."""
    t0 = time.perf_counter()
    exp = expand(plan.query, plan.options, plan.filters, plan.dictionaries) if plan.expand else None
    t1 = time.perf_counter()
    side = LexicalSide(exp)
    if plan.lexical:
        o = plan.options
        terms = tuple(analyze_query(plan.query))
        groups = exp.groups() if exp is not None and o.expand else [(None, ())]
        use_exp = any(added for _, added in groups)
        merge = use_exp and o.expand_lexical in ("merge", "both")
        query_groups = [(kinds, tuple(dict.fromkeys([*terms, *added])) if merge else terms) for kinds, added in groups]
        if not merge:
            query_groups = [(None, terms)]
        side.lists["lexical"] = _search_groups(store, query_groups, plan.candidates, plan.filters)
        if use_exp and o.expand_lexical in ("list", "both"):
            side.lists["expansion"] = _search_groups(store, groups, plan.candidates, plan.filters)
    side.seconds = {"expand": t1 - t0, "lexical": time.perf_counter() - t1}
    return side


def embed_query(embedder: QueryEmbedder | None, plan: Plan, exp: QueryExpansion | None) -> np.ndarray:
    """The query's vector(s): row 0 the query, row 1 the query with its expansions (``expand_dense``)."""
    texts = [plan.query]
    if exp is not None and plan.options.expand_dense and exp.widest().applied:
        texts.append(exp.widest().dense_text())
    given = plan.query_vector
    if given is not None and len(texts) == 1:
        return given.reshape(1, -1)
    assert embedder is not None  # plan.dense needs one
    qv = np.asarray(embedder.embed_queries(texts), np.float32)
    if given is not None:
        qv[0] = given
    return qv


def dense_lists(store: Store, qv: np.ndarray, plan: Plan) -> dict[str, Ranked]:
    out = {"dense": store.dense_search(np.asarray(qv[0], np.float32), plan.candidates, plan.filters)}
    if len(qv) > 1:
        out["dense_expanded"] = store.dense_search(np.asarray(qv[1], np.float32), plan.candidates, plan.filters)
    return out


__all__ = [
    "LexicalSide",
    "Plan",
    "ProfileExpansion",
    "QueryEmbedder",
    "QueryExpansion",
    "Ranked",
    "dense_lists",
    "embed_query",
    "expand",
    "lexical_side",
    "make_plan",
]
