"""Query expansion from French dictionaries: SMS/chat forms, police and administrative acronyms, concepts.

Dictionaries are TOML files (format in docs/dictionaries.md). Each has up to three tables:

- ``[synonyms]``: ``"rendez-vous" = ["rdv", "rv"]``: every form finds every other (a clique);
- ``[abbreviations]``: ``gav = ["garde à vue", "gendarme adjoint volontaire"]``: the key finds each
  value and each value finds the key, the values do not find each other;
- ``[concepts]``: ``"insulte|injure|outrage" = ["connard", "nique la police", ...]``: one way, key → values.

Keys and values are matched on their surface form (folded, lowercase, elided pronouns and hyphens split)
then Snowball-stemmed, so "T’inquiète pas" matches the key "t'inquiète", "désolée" matches "désolé" and
"insultes" matches "insulte". The longest key wins at each position of the query.

Loading and merging the dictionaries is ``lexicon.py``; ``expand_query(..., profile=...)`` uses only the
dictionaries that fit one source profile (``profiles.py``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pisteur.retrieve.lexicon import (
    Dictionaries,
    DictionaryError,
    _Dict,
    _Rule,
    _stamp,
    default_dictionaries,
    load_dictionaries,
    match_key,
    user_dictionary_dir,
)
from pisteur.text.analysis import analyze, analyze_heads, analyze_query, surface_spans

__all__ = [
    "Applied",
    "Dictionaries",
    "DictionaryError",
    "Expansion",
    "Phrase",
    "_Dict",
    "default_dictionaries",
    "expand_query",
    "load_dictionaries",
    "user_dictionary_dir",
]

PHRASE_TERM_FACTOR = 0.5  # single terms taken out of a multi-word expansion count for less


@dataclass(frozen=True)
class Applied:
    """One dictionary rule that fired: the query's words, the form they matched, what it adds, from where."""

    source: str  # the words of the query (as typed)
    form: str  # the dictionary form they matched
    to: tuple[str, ...]
    dictionary: str

    def to_json(self) -> dict[str, Any]:
        return {"from": self.source, "form": self.form, "to": list(self.to), "dictionary": self.dictionary}


@dataclass
class Phrase:
    text: str
    terms: list[str]  # analysed terms in order, as stored in the lexical column (for phrase/NEAR queries)
    weight: float
    origin: str


@dataclass
class Expansion:
    original: str
    terms: list[tuple[str, float, str]]  # (analysed term, weight, origin): origin "query" or a dictionary
    phrases: list[Phrase]
    applied: list[Applied]
    # (char start, char end, targets) of the matched spans of the (NFC) query, for dense_queries
    _spans: list[tuple[int, int, list[str]]] = field(default_factory=list, repr=False)
    # content terms (``analyze_heads``) of the query, and those inside a matched dictionary form
    heads: frozenset[str] = frozenset()
    matched_heads: frozenset[str] = frozenset()

    def dictionary_share(self) -> float:
        """Fraction of the query's content terms that lie inside a dictionary form that fired (0..1):
        1.0 for "rendez-vous" or "tkt", ~0.2 for a long question where only "quel" fired. The pipeline
        uses it to lean on the lexical lists, where the variants are, rather than on the dense model,
        which only sees the standard form."""
        return len(self.matched_heads & self.heads) / len(self.heads) if self.heads else 0.0

    def term_weights(self) -> dict[str, float]:
        return {t: w for t, w, _ in self.terms}

    def expanded_terms(self) -> list[str]:
        return [t for t, _, o in self.terms if o != "query"]

    def lexical_terms(self, max_terms: int | None = 64) -> list[tuple[str, float]]:
        """(term, weight), the query's terms first, then expansions by decreasing weight, at most
        ``max_terms``: a concept like "insulte" brings ~170 terms, and an FTS5 OR over all of them costs
        ~35 ms at 10k chunks (2-core VM)."""
        own = [(t, w) for t, w, o in self.terms if o == "query"]
        exp = sorted(((t, w) for t, w, o in self.terms if o != "query"), key=lambda x: -x[1])
        out = own + exp
        return out if max_terms is None else out[: max(max_terms, len(own))]

    def dense_text(self, max_added: int = 8) -> str:
        """The query with its first expansions appended, for one dense embedding."""
        added: list[str] = []
        for a in self.applied:
            for t in a.to:
                if t not in added:
                    added.append(t)
        added = added[:max_added]
        return self.original if not added else f"{self.original} ({', '.join(added)})"

    def dense_queries(self, max_queries: int = 4) -> list[str]:
        """The original query, then rewrites where one matched span is replaced by one of its variants
        ("rdv demain" → "rendez-vous demain"): embed each and fuse, or average."""
        out = [self.original]
        text = unicodedata.normalize("NFC", self.original)
        for start, end, targets in self._spans:
            for t in targets:
                if len(out) >= max_queries:
                    return out
                q = text[:start] + t + text[end:]
                if q not in out:
                    out.append(q)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "terms": [{"term": t, "weight": round(w, 3), "origin": o} for t, w, o in self.terms],
            "phrases": [
                {"text": p.text, "terms": p.terms, "weight": round(p.weight, 3), "origin": p.origin}
                for p in self.phrases
            ],
            "applied": [a.to_json() for a in self.applied],
        }


@lru_cache(maxsize=8)
def _with_paths(user_dir: str, stamp: tuple[tuple[str, int], ...], paths: tuple[str, ...]) -> Dictionaries:
    return load_dictionaries(paths)


def resolve_dictionaries(dictionaries: Dictionaries | Sequence[str | Path] | None = None) -> Dictionaries:
    """A loaded set as is; extra files/folders merged over the shipped and user ones (loaded once per list);
    None: the shipped and user dictionaries."""
    if isinstance(dictionaries, Dictionaries):
        return dictionaries
    if not dictionaries:
        return default_dictionaries()
    udir = user_dictionary_dir()
    return _with_paths(str(udir), _stamp(udir), tuple(str(p) for p in dictionaries))


@dataclass
class _Match:
    """The query's surface tokens and what matching them against the dictionaries collects."""

    text: str
    spans: list[tuple[str, int, int]]
    keys: list[str]
    weights: dict[str, tuple[float, str]]
    phrases: dict[str, Phrase] = field(default_factory=dict)
    applied: list[Applied] = field(default_factory=list)
    rewrites: list[tuple[int, int, list[str]]] = field(default_factory=list)
    covered: list[tuple[int, int]] = field(default_factory=list)  # char spans of every matched form
    partial: set[str] = field(default_factory=set)
    matched_heads: set[str] = field(default_factory=set)

    def longest(self, dicts: Dictionaries, i: int, profile: str | None) -> tuple[int, list[_Rule]]:
        """Length and rules of the longest dictionary form starting at token ``i`` (0 when none)."""
        for n in range(min(dicts.max_len, len(self.keys) - i), 0, -1):
            rules = [r for r in dicts.index.get(tuple(self.keys[i : i + n]), ()) if dicts.fits(r.dictionary, profile)]
            if rules:
                return n, rules
        return 0, []

    def apply(self, i: int, n: int, rules: list[_Rule]) -> None:
        a, b = self.spans[i][1], self.spans[i + n - 1][2]
        span_heads = analyze_heads(self.text[a:b])
        # The words of a multi-word form, and a concept word ("menace": the user wants threats, not
        # messages about threats), count as partial evidence.
        if len(set(span_heads)) > 1 or any(r.kind == "concepts" for r in rules):
            self.partial.update(span_heads)
        for r in rules:
            self._add_rule(r)
        by_dict: dict[str, list[str]] = {}
        form: dict[str, str] = {}
        for r in rules:
            by_dict.setdefault(r.dictionary, []).append(r.target)
            form.setdefault(r.dictionary, r.trigger)
        original = self.text[a:b]
        seen = {(x.source, x.dictionary) for x in self.applied}
        for name, targets in by_dict.items():
            if (original, name) not in seen:
                self.applied.append(Applied(original, form[name], tuple(targets), name))
        # Dense rewrites: paraphrases only; a concept's instances replace the words only when the concept is
        # the whole query ("insulte" → "connard", but not "nique la police" → "nique la flic").
        self.covered.append((a, b))
        self.matched_heads.update(span_heads)
        rewrites = [r.target for r in rules if r.kind != "concepts" or n == len(self.keys)]
        if rewrites:
            self.rewrites.append((a, b, rewrites))

    def _add_rule(self, r: _Rule) -> None:
        terms = analyze_heads(r.target)
        multi = len(set(terms)) > 1
        w = r.weight * (PHRASE_TERM_FACTOR if multi else 1.0)
        for t in dict.fromkeys(terms):
            cur = self.weights.get(t)
            if cur is None or (cur[1] != "query" and cur[0] < w):
                self.weights[t] = (w, r.dictionary)
        if multi and r.target not in self.phrases:
            self.phrases[r.target] = Phrase(r.target, analyze(r.target), r.weight, r.dictionary)

    def settle_partial(self) -> None:
        """Query words inside a matched multi-word form (or a concept) weigh PHRASE_TERM_FACTOR, unless the
        same word also stands outside every matched form."""
        outside: set[str] = set()
        for _, a, b in self.spans:
            if not any(a >= start and b <= end for start, end in self.covered):
                outside.update(analyze_heads(self.text[a:b]))
        for t in self.partial - outside:
            if self.weights.get(t, (0.0, ""))[1] == "query":
                self.weights[t] = (min(self.weights[t][0], PHRASE_TERM_FACTOR), "query")


def _query_weights(query: str, heads: set[str]) -> dict[str, tuple[float, str]]:
    """Original terms weigh 1.0; parts of a compound ("rend" of "rendez-vous", "py" of "base.py") weigh
    PHRASE_TERM_FACTOR: each is only partial evidence, and an abbreviation of the whole ("mdr") must not rank
    below a lone "mort". A query of stop words only ("pas", "je suis") keeps them at full weight."""
    if not heads:
        return {t: (1.0, "query") for t in analyze_query(query)}
    return {t: (1.0 if t in heads else PHRASE_TERM_FACTOR, "query") for t in analyze_query(query)}


def expand_query(
    query: str,
    dictionaries: Dictionaries | Sequence[str | Path] | None = None,
    *,
    profile: str | None = None,
) -> Expansion:
    """Analyse ``query`` and add the expansions of every dictionary form found in it.

    ``dictionaries``: a loaded set, or extra dictionary files/folders merged over the shipped and user ones
    (loaded once per list), or None for the shipped and user dictionaries. ``profile``: use only the
    dictionaries that fit this source profile (``profiles.py``); None uses them all."""
    dicts = resolve_dictionaries(dictionaries)
    heads = set(analyze_heads(query))
    text = unicodedata.normalize("NFC", query)
    spans = surface_spans(text)
    m = _Match(text, spans, [match_key(w) for w, _, _ in spans], _query_weights(query, heads))
    i = 0
    while i < len(m.keys):
        n, rules = m.longest(dicts, i, profile)
        if not n:
            i += 1
            continue
        # A form made only of stop words ("pour", "c'est") does not pull in variants on its own.
        if analyze(" ".join(w for w, _, _ in spans[i : i + n])) or len(m.keys) <= n:
            m.apply(i, n, rules)
        i += n
    m.settle_partial()
    terms = [(t, w, o) for t, (w, o) in m.weights.items()]
    return Expansion(
        query, terms, list(m.phrases.values()), m.applied, m.rewrites, frozenset(heads), frozenset(m.matched_heads)
    )
