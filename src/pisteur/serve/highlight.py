"""Snippets and highlight spans: which words of a hit match the query (after French analysis).

A word is highlighted when one of its analysed terms (folded, stemmed: see ``pisteur.text.analysis``) is a
query term, so "universités" lights up for "université" and "rdv" for an expansion to "rendez-vous".
Spans are character offsets into the returned snippet; clients render them as text nodes (never HTML).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from pisteur.text.analysis import analyze, analyze_query

_WORD = re.compile(r"[#@]?\w+(?:[-./:#@]+\w+)*")
_WS = re.compile(r"\s+")


def query_terms(query: str, expansions: Iterable[Any] = ()) -> set[str]:
    terms = set(analyze_query(query))
    for text in _strings(expansions, depth=0):
        terms.update(analyze_query(text))
    return terms


def _strings(obj: Any, depth: int) -> Iterable[str]:
    if depth > 3:
        return
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key in ("text", "term", "terms", "expansion", "to", "query", "variants"):
            if key in obj:
                yield from _strings(obj[key], depth + 1)
    elif isinstance(obj, (list, tuple, set)):
        for x in obj:
            yield from _strings(x, depth + 1)


@lru_cache(maxsize=200_000)
def _word_terms(word: str) -> frozenset[str]:
    return frozenset(analyze(word))


def spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    if not terms:
        return []
    out = []
    isdisjoint = terms.isdisjoint
    for m in _WORD.finditer(text):
        if not isdisjoint(_word_terms(m.group(0))):
            out.append((m.start(), m.end()))
    return out


def snippet(text: str, terms: set[str], width: int = 240) -> tuple[str, list[tuple[int, int]]]:
    """A window of about ``width`` characters holding the most matches, whitespace collapsed."""
    flat = _WS.sub(" ", text).strip()
    found = spans(flat, terms)
    if len(flat) <= width:
        return flat, found
    start = 0
    if found:
        best, best_n = found[0][0], 0
        for i, (s, _) in enumerate(found):
            n = sum(1 for s2, e2 in found[i:] if e2 <= s + width)
            if n > best_n:
                best, best_n = s, n
        start = max(0, best - width // 5)
    end = min(len(flat), start + width)
    if start > 0:
        sp = flat.find(" ", start, start + 30)
        start = sp + 1 if sp != -1 else start
    if end < len(flat):
        sp = flat.rfind(" ", end - 30, end)
        end = sp if sp > start else end
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(flat) else ""
    shift = len(prefix) - start
    inside = [(s + shift, e + shift) for s, e in found if s >= start and e <= end]
    return prefix + flat[start:end] + suffix, inside
