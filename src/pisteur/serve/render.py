"""Turning pipeline results and stored chunks into the response models (snippets, highlights, pages)."""

from __future__ import annotations

import sys
from typing import Any

from pisteur.serve.highlight import query_terms, snippet
from pisteur.serve.models import Passage, SearchHit, SearchResponse


def render_search(query: str, k: int, result: Any, gen: int, cached: bool, explain: bool) -> SearchResponse:
    expansions = list(getattr(result, "expansions", []) or [])
    terms = query_terms(query, expansions)
    hits = []
    for rank, h in enumerate(result.hits, 1):
        m = h.meta or {}
        snip, spans = snippet(h.text, terms)
        hits.append(SearchHit(
            id=h.id, rank=rank, score=round(float(h.score), 6), kind=h.kind, source=h.source,
            session_id=m.get("session_id"), project=m.get("project"), ts_first=m.get("ts_first"),
            ts_last=m.get("ts_last"), line_start=m.get("line_start"), line_end=m.get("line_end"),
            title=m.get("title") or m.get("sender"), snippet=snip, highlights=spans,
            explain=(h.explain or None) if explain else None,
        ))
    timings = {name: round(v * 1000, 3) for name, v in (getattr(result, "timings", {}) or {}).items()}
    return SearchResponse(query=query, k=k, hits=hits, took_ms=0.0, cached=cached, generation=gen,
                          expansions=jsonable(expansions) if explain else [], timings_ms=timings)


def expansions_of(query: str) -> list[Any]:
    """The dictionary expansions of a query (to highlight "rdv" in context for "rendez-vous")."""
    try:
        from pisteur.retrieve.expand import expand_query

        exp = expand_query(query)
    except Exception:  # expansion is optional for highlighting
        return []
    return list(getattr(exp, "applied", []) or []) if exp is not None else []


def paginate(hits: list[Any], target: int, page_chars: int) -> list[list[Passage]]:
    pages: list[list[Passage]] = [[]]
    room = page_chars
    for h in hits:
        m = h.meta or {}
        text = h.text
        pos = 0
        while True:
            if room <= 0:
                pages.append([])
                room = page_chars
            part = text[pos:pos + room]
            pos += len(part)
            room -= len(part)
            extra = {k: v for k, v in m.items() if k not in {
                "session_id", "uuids", "ts_first", "ts_last", "line_start", "line_end", "ord"}}
            pages[-1].append(Passage(
                id=h.id, kind=h.kind, is_hit=h.id == target, text=part, truncated=pos < len(text),
                session_id=m.get("session_id"), uuids=list(m.get("uuids") or []), ts_first=m.get("ts_first"),
                ts_last=m.get("ts_last"), line_start=m.get("line_start"), line_end=m.get("line_end"),
                meta=jsonable(extra),
            ))
            if pos >= len(text):
                break
    return pages


def jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [jsonable(v) for v in obj]
    np = sys.modules.get("numpy")  # not imported here: a numpy scalar exists only once numpy is loaded
    if np is not None and isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if hasattr(obj, "__dict__"):
        return jsonable(vars(obj))
    return str(obj)
