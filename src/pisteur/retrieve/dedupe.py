"""Last step of a search: identical texts collapsed into one hit, and how much of the index dense covers.

Claude Code sessions repeat tool outputs verbatim (the same file read in four sessions): the first hit
keeps its rank and lists where else the same text is (``meta["also_in"]``, ``explain["collapsed"]``).
Conversation turns are never collapsed.
While the dense pass is still running, some chunks are found by their words only: the result says so
(``options["dense_coverage"]``, 0-1, and on each hit's ``explain`` while it is below 1).
"""

from __future__ import annotations

from typing import Any

from pisteur.store.base import text_hash

ALSO_IN_MAX = 10


COLLAPSED_KINDS = frozenset({"tool_result"})


def collapse_identical(hits: list[Any], kinds: frozenset[str] = COLLAPSED_KINDS) -> list[Any]:
    """Keep the first hit of each distinct text (order kept); the others become ``also_in`` entries.
    Only tool outputs are collapsed: the same question asked in two projects is two moments to find."""
    first: dict[str, Any] = {}
    out = []
    for h in hits:
        if h.kind not in kinds:
            out.append(h)
            continue
        key = text_hash(h.text)
        kept = first.get(key)
        if kept is None:
            first[key] = h
            out.append(h)
            continue
        also = kept.meta.setdefault("also_in", [])
        if len(also) < ALSO_IN_MAX:
            also.append({"id": h.id, "source": h.source, "session_id": h.meta.get("session_id")})
        kept.explain = {**(kept.explain or {}), "collapsed": int((kept.explain or {}).get("collapsed", 0)) + 1}
    return out


def finish(store: Any, result: Any) -> Any:
    """Collapse identical hits and record the dense coverage of the index searched."""
    result.hits = collapse_identical(result.hits)
    coverage = getattr(store, "dense_coverage", None)
    if callable(coverage):
        value = coverage()
        result.options["dense_coverage"] = value
        if value < 1.0:  # said on each hit too (``--json``, ``--explain``): some chunks have no vector yet
            for h in result.hits:
                h.explain = {**(h.explain or {}), "dense_coverage": value}
    return result
