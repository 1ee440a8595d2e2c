"""Query makers: from one chunk of text to a query a user could type, without any label.

- ``cloze``: inverse cloze task (Lee et al., 2019, "Latent Retrieval for Weakly Supervised Open Domain
  Question Answering"): a sentence cut from its passage stands for a question about it. As the passage stays
  in the index, about half the sentence's common words are dropped and its length capped, so that the query
  does not simply repeat the passage;
- ``title``: a heading or title turned into a question ("Qu'est-ce que … ?" / "What is … ?");
- ``keywords``: two to four of the chunk's rarest words (highest IDF over the index), shuffled;
- ``sms``: an SMS-style variant of another query, through the shipped SMS dictionary read backwards
  (standard form → its first short form: "rendez-vous" → "rdv"), accents and apostrophes dropped;
- ``standard``: the reverse, for chunks written in SMS style: their SMS forms written out ("rdv" →
  "rendez-vous"), the query an analyst types to find such messages;
- ``question``: a question made by rules from a sentence, its answer removed (``tune/questions.py``).
"""

from __future__ import annotations

import math
import random
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from pisteur.text.analysis import analyze

KINDS = ("cloze", "title", "keywords", "sms", "standard", "llm", "question")
_WORD = re.compile(r"[\w'’-]+", re.U)
_SENT = re.compile(r"(?<=[.!?…])\s+|\n+")
FR = frozenset("le la les des une un du de et est que qui dans pour sur pas avec au aux ce cette il elle nous "
               "vous sont ont été être par plus ou mais".split())
EN = frozenset("the a an of and is are was were to in for on with that this it by be as at from or not have "
               "has which".split())


def language(text: str) -> str:
    words = [w.lower() for w in _WORD.findall(text)]
    fr, en = sum(w in FR for w in words), sum(w in EN for w in words)
    return "en" if en > fr else "fr"


class Idf:
    """Inverse document frequency of analysed terms over a set of texts (chunks)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for t in texts:
            self.n += 1
            self.df.update(set(analyze(t)))

    def of(self, word: str) -> float:
        terms = analyze(word)
        if not terms:
            return 0.0  # a stop word
        return max(math.log((self.n + 1) / (self.df.get(t, 0) + 0.5)) for t in terms)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text) if s and s.strip()]


def cloze(text: str, rng: random.Random, idf: Idf, max_words: int = 14) -> str | None:
    cands = [s for s in sentences(text) if 6 <= len(_WORD.findall(s)) <= 40]
    if not cands:
        return None
    words = _WORD.findall(rng.choice(cands))
    scores = [idf.of(w) for w in words]
    ranked = sorted(range(len(words)), key=lambda i: -scores[i])
    keep_rare = set(ranked[: max(2, len(words) // 3)])
    kept = [w for i, w in enumerate(words) if i in keep_rare or (scores[i] > 0 and rng.random() < 0.5)]
    if len(kept) > max_words:
        start = rng.randrange(0, len(kept) - max_words + 1)
        kept = kept[start : start + max_words]
    return " ".join(kept) if len(kept) >= 3 else None


def heading(text: str, title: str = "") -> str | None:
    """The chunk's title, or a first line that reads as a heading (short, no final full stop)."""
    if title.strip():
        return title.strip()
    first = text.strip().split("\n", 1)[0].strip()
    if first.startswith("#"):
        return first.lstrip("#").strip() or None
    if 2 <= len(first.split()) <= 12 and not first.endswith((".", ":", ";", ",")) and "\n" in text.strip():
        return first
    return None


def title_question(text: str, title: str, rng: random.Random) -> str | None:
    h = heading(text, title)
    h = re.sub(r"<[^>]+>", "", h).strip() if h else h  # titles taken from HTML keep their tags
    if not h or len(h.split()) > 14:
        return None
    if h.endswith("?"):
        return h
    if language(text) == "en":
        return rng.choice(("What is {}?", "What about {}?", "{}: how does it work?")).format(h)
    return rng.choice(("Qu'est-ce que {} ?", "Que sait-on de {} ?", "{} : de quoi s'agit-il ?")).format(h)


def keywords(text: str, rng: random.Random, idf: Idf) -> str | None:
    words = list(dict.fromkeys(w for w in _WORD.findall(text) if len(w) > 2 and not w.isdigit()))
    scored = sorted(((idf.of(w), w) for w in words), reverse=True)
    # the very rarest words are often typos or identifiers seen once: start from the rare-but-shared ones
    pool = [w for s, w in scored if s > 0][:12]
    if len(pool) < 2:
        return None
    pick = rng.sample(pool, min(len(pool), rng.randint(2, 4)))
    return " ".join(pick)


@lru_cache(maxsize=1)
def sms_forms() -> dict[str, str]:
    """Standard French form → a short SMS form, from the shipped SMS dictionary's synonym lines."""
    path = resources.files("pisteur.retrieve.dictionaries").joinpath("sms.toml")
    data = tomllib.loads(path.read_text("utf-8"))
    out: dict[str, str] = {}
    for key, values in data.get("synonyms", {}).items():
        vals = [values] if isinstance(values, str) else list(values)
        short = [v for v in vals if " " not in v and len(v) < len(key)]
        if short and len(key) > 2:
            out[key.lower()] = short[0]
    return out


@lru_cache(maxsize=1)
def standard_forms() -> dict[str, str]:
    """SMS/chat form → its standard French form (the shipped SMS dictionary read forwards)."""
    path = resources.files("pisteur.retrieve.dictionaries").joinpath("sms.toml")
    data = tomllib.loads(path.read_text("utf-8"))
    out: dict[str, str] = {}
    for key, values in data.get("synonyms", {}).items():
        for v in [values] if isinstance(values, str) else values:
            if len(v) >= 2 and v.lower() != key.lower():
                out.setdefault(v.lower(), key)
    return out


def standard_variant(query: str) -> str | None:
    """The query with its SMS forms written out ("rdv" → "rendez-vous"): what an analyst types to find
    messages written in SMS style. None when no SMS form occurs in it."""
    low, hits = _replace(query, "standard")
    return " ".join(low.split()) if hits else None


@lru_cache(maxsize=2)
def _pattern(direction: str) -> tuple[re.Pattern[str], dict[str, str]]:
    """One alternation of every form (longest first: "je suis" before "je"), whole words only."""
    table = sms_forms() if direction == "sms" else standard_forms()
    forms = sorted(table, key=len, reverse=True)
    return re.compile(r"(?<![\w'])(?:" + "|".join(map(re.escape, forms)) + r")(?![\w'])"), table


def _replace(query: str, direction: str) -> tuple[str, int]:
    pat, table = _pattern(direction)
    return pat.subn(lambda m: table[m.group(0)], query.lower().replace("’", "'"))


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def sms_variant(query: str, rng: random.Random) -> str | None:
    """The query as typed on a phone: dictionary short forms, lower case, no accents; None when no
    dictionary form occurs in it."""
    low, hits = _replace(query, "sms")
    if not hits:
        return None
    out = _fold(low).replace("'", "" if rng.random() < 0.5 else " ").replace("?", "")
    return " ".join(out.split())
