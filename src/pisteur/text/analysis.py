"""French-first lexical analysis for BM25 (documents and queries).

Order of operations, per token: apostrophes normalised (’ ‘ ʼ → '), French elision removed (l' d' qu' j' n'
s' c' m' t' jusqu' lorsqu' puisqu' quoiqu'), lowercase, accent folding, letters repeated 3+ times collapsed
("biiisouuus" → "bisous"), stop words, then Snowball French stemming (PyStemmer). Folding comes *before*
stemming: Snowball stems "université" → ``univers`` but
"universites" → ``universit``; folded first, both give ``universit``.

Code stays findable: a token with inner ``_ - . / : # @`` or digits, or in CamelCase, yields the whole token
(folded, lowercase, not stemmed) and its parts (``foo/bar.py`` → ``foo/bar.py``, ``foo``, ``bar.py``,
``bar``, ``py``; ``getUserName`` → ``getusername``, ``get``, ``user``, ``nam``; ``HTTP404`` → ``http404``,
``http``, ``404``). Plain words are stemmed only.

Every term survives SQLite FTS5's ``unicode61 remove_diacritics 0 tokenchars '_-./:#@'`` tokenizer unchanged:
no spaces, no quotes, only letters, digits and ``_-./:#@``. Results are cached per raw token, so analysing
10k chunks takes seconds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources

import Stemmer

__all__ = [
    "ANALYZER_VERSION",
    "STOP_WORDS",
    "analyze",
    "analyze_heads",
    "analyze_query",
    "fold",
    "stem",
    "surface_spans",
    "surface_tokens",
]

# Apostrophe look-alikes, normalised to '
_APOS_CHARS = "'\u2019\u2018\u02bc\uff07"
_APOS = str.maketrans(dict.fromkeys(_APOS_CHARS[1:], "'"))
_ELISION = re.compile(r"^(?:jusqu|lorsqu|puisqu|quoiqu|qu|[ldjnscmt])'(?=\w)", re.IGNORECASE)
# A token: word characters (inner apostrophes allowed), optionally a leading # or @, joined by runs of inner
# separators. Elision and apostrophes are handled per distinct token (cached), not per text.
_W = rf"\w+(?:[{_APOS_CHARS}]\w+)*"
_TOKEN = re.compile(rf"[#@]?{_W}(?:[-./:#@]+{_W})*")
_OUTER_SPLIT = re.compile(r"[/:@#]+")
_INNER_SPLIT = re.compile(r"[-._]+")
# CamelCase / letter-digit boundaries: "getHTTPResponse2" → get, HTTP, Response, 2
_PIECES = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^\W\d_]+")
_FOLD_EXTRA = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O"})
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")  # "bisoussss" → "bisous", "mdrrr" → "mdr"
_HYPHENATED = re.compile(r"^[^\W\d_]+(?:-[^\W\d_]+)+$")
_PHONE = re.compile(r"(?<!\w)(?:\+33[\s.-]?|0033[\s.-]?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\w)")
_DIGIT_RUN = re.compile(r"[+\d][\d .-]{8,20}\d")
_MAX_TOKEN = 120  # longer runs (base64, minified code) are kept whole but not split

# Bump when the terms produced for a text change: an index built with another version must re-analyse.
ANALYZER_VERSION = "fr-4"

_stemmer = Stemmer.Stemmer("french")


def _load_stop_words() -> frozenset[str]:
    text = resources.files("pisteur.text").joinpath("stopwords-fr.txt").read_text("utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


STOP_WORDS: frozenset[str] = _load_stop_words()


@lru_cache(maxsize=262_144)
def fold(word: str) -> str:
    """Lowercase and strip diacritics ("Université" → "universite", "cœur" → "coeur")."""
    w = word.translate(_FOLD_EXTRA).lower()
    if w.isascii():
        return w
    return "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))


@lru_cache(maxsize=262_144)
def stem(word: str) -> str:
    """Snowball French stem of an already folded, lowercase word.

    Folding first costs Snowball the "é" of feminine participles ("desolee" → ``desole`` but "desole" →
    ``desol``), so a final "e" left on a stem of 3+ letters is dropped: both give ``desol``.
    """
    if len(word) > 3 and word[-1] == "s" and word[-2] not in "aiouys":
        # Snowball's own plural rule, applied first: English plurals then stem like their singular
        # ("commits"/"commit", "servers"/"server"); neutral on French (PIAF BM25 nDCG@10 0.791 both ways)
        word = word[:-1]
    s = _stemmer.stemWord(word)
    return s[:-1] if len(s) >= 3 and s.endswith("e") else s


def _prepare(text: str) -> str:
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


@lru_cache(maxsize=262_144)
def _plain_term(piece: str, keep_stop: bool) -> str | None:
    """Term of one alphabetic or numeric piece, or None if it is dropped."""
    f = fold(piece)
    if f.isdigit():
        return f
    f = _REPEATS.sub(r"\1", f)
    if len(f) < 2 or (not keep_stop and f in STOP_WORDS):
        return None
    return stem(f)


@lru_cache(maxsize=262_144)
def _analyze_token(tok: str, keep_stop: bool) -> tuple[str, ...]:
    if any(c in _APOS_CHARS for c in tok):
        # Elision first ("l'élève" → "élève", "qu'aujourd'hui" → "aujourd'hui"), then the remaining
        # apostrophes join ("aujourd'hui" → "aujourdhui", "don't" → "dont").
        t = _ELISION.sub("", tok.translate(_APOS)).replace("'", "")
        return _analyze_token(t, keep_stop) if t else ()
    if tok[0] in "#@":
        core = tok.lstrip("#@")
        return (fold(tok), *_analyze_token(core, keep_stop)) if core else ()
    if tok.isalpha() and (tok.islower() or tok.isupper() or tok[1:].islower()):
        term = _plain_term(tok, keep_stop)
        return (term,) if term else ()
    whole = fold(tok)
    if tok.isdigit():
        return (whole,)
    if _HYPHENATED.match(tok):
        # French compounds: stem the last part so "week-ends" and "week-end" share the whole term
        *head, last = whole.split("-")
        whole = "-".join([*head, stem(_REPEATS.sub(r"\1", last))])
    if len(tok) > _MAX_TOKEN:
        return (whole,)
    return tuple(dict.fromkeys(t for t in (whole, *_parts(tok, keep_stop)) if t))


def _parts(tok: str, keep_stop: bool) -> Iterator[str | None]:
    """Terms of the parts of a compound token (identifier, path, hyphenated word), in order."""
    for seg in _OUTER_SPLIT.split(tok):
        if not seg:
            continue
        parts = [p for p in _INNER_SPLIT.split(seg) if p]
        if seg != tok and len(parts) > 1:
            yield fold(seg)
        for part in parts:
            yield from _part_terms(part, tok, keep_stop)


def _part_terms(part: str, tok: str, keep_stop: bool) -> Iterator[str | None]:
    pieces = _PIECES.findall(part)
    if len(pieces) > 1:
        if part != tok:
            yield fold(part)
        for piece in pieces:
            yield _plain_term(piece, keep_stop)
    elif pieces:
        yield _plain_term(part, keep_stop) if pieces[0] == part and part.isalpha() else fold(part)


def analyze(text: str) -> list[str]:
    """Terms of a document, in order, with repeats (for term frequency)."""
    text = _prepare(text)
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        out.extend(_analyze_token(tok, False))
    # French phone numbers written with spaces, dots, dashes or +33 also give their 10-digit form, so
    # "06 12 34 56 78", "+33 6 12 34 56 78" and "0612345678" find each other.
    for run in _DIGIT_RUN.finditer(text):  # cheap pre-scan, then the exact pattern around each run
        if run.group().isdigit():
            continue
        for number in _PHONE.findall(text, max(0, run.start() - 1), run.end() + 1):
            out.append("0" + re.sub(r"\D", "", number)[-9:])
    return out


def analyze_heads(text: str) -> list[str]:
    """One term per token: the stem of a plain word, the whole of an identifier/path/code (no parts)."""
    out: list[str] = []
    for tok in _TOKEN.findall(_prepare(text)):
        terms = _analyze_token(tok, False)
        if terms:
            out.append(terms[0])
    return out


def analyze_by_token(text: str) -> list[tuple[str, ...]]:
    """The terms of each token, in order ("rendez-vous avec" → [("rendez-vous", "rend")]): tells a
    compound's own parts from the next word's terms."""
    return [t for t in (_analyze_token(tok, False) for tok in _TOKEN.findall(_prepare(text))) if t]


def analyze_query(text: str) -> list[str]:
    """Distinct terms of a query, in order. If every word is a stop word ("pas", "qui"), they are kept."""
    terms = list(dict.fromkeys(analyze(text)))
    if terms:
        return terms
    out: list[str] = []
    for tok in _TOKEN.findall(_prepare(text)):
        out.extend(_analyze_token(tok, True))
    return list(dict.fromkeys(out))


_SURFACE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_ELIDED = re.compile(r"(jusqu|lorsqu|puisqu|quoiqu|qu|[ldjnscmt])'", re.IGNORECASE)


def surface_spans(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of the folded lowercase words of ``text``, elided pronouns and hyphens split,
    no stemming, no stop words. Offsets index ``text`` after NFC normalisation.

    Used to match multi-word dictionary keys: "T’inquiète pas" → t, inquiete, pas;
    "rendez-vous" → rendez, vous; "aujourd'hui" → aujourdhui.
    """
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    out: list[tuple[str, int, int]] = []
    for m in _SURFACE.finditer(text.translate(_APOS)):
        word, start = m.group(), m.start()
        e = _ELIDED.match(word)
        if e and e.end() < len(word):
            out.append((fold(e.group(1)), start, start + e.end() - 1))
            word, start = word[e.end() :], start + e.end()
        out.append((_REPEATS.sub(r"\1", fold(word.replace("'", ""))), start, m.end()))
    return out


def surface_tokens(text: str) -> list[str]:
    """The words of :func:`surface_spans`, without offsets."""
    return [w for w, _, _ in surface_spans(text)]
