"""Questions shaped like a user's, made by rules from a passage's sentences, without a language model.

Real questions are short, open with a question word and lack their answer ("Combien de Juifs de Grèce ont
été assassinés ?"), whereas a sentence cut from its passage contains the answer and every word around it.
Each rule finds an answer span in a sentence, removes it, keeps the rest of its clause (cut to its core, at
most ~14 words) and puts the matching question word in front:

- a date or a year → "Quand" / "En quelle année" (a century → "À quel siècle"); English "When" / "In what year";
- a number before a noun → "Combien de <noun>"; "How many <noun>";
- a capitalised place after à/au/en/dans → "Où"; after in/at → "Where";
- a capitalised person-like subject opening the sentence, or the agent after "par" → "Qui" / "Par qui"; "Who";
- a common noun naming a capitalised name ("le général Bagration", "la ville de Lyon") → "Quel général",
  "Quelle ville"; "the river Thames" → "Which river";
- a definition "X est un/une Y" → "Qu'est-ce que X"; "X is a Y" → "What is X";
- a cause or purpose ("parce que", "afin de", "pour" + infinitive) → "Pourquoi"; a means ("grâce à", "en" +
  present participle) → "Comment"; "because", "in order to" → "Why"; "by" + "-ing" → "How".

Grammar is not the goal (no subject-verb inversion): the distribution of words is — a question word, the
clause's content words, no answer. Rules and regular expressions rather than a parser: no French parser
(spaCy, Stanza) ships with models that install offline, and the core install stays light; stop words and
content-word counts come from the product's own analysis (``pisteur.text.analysis``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pisteur.text.analysis import STOP_WORDS, analyze, fold
from pisteur.tune.generate import language, sentences

Lang = Literal["fr", "en"]
Keep = Literal["around", "before"]  # the clause around the span, or only the words before it (causes)

MAX_WORDS = 14
# Words kept from the clause in a passage's question, drawn per question: real questions are short (PIAF's:
# 9.4 words on average, about 3 content words of their passage), a long clause mostly repeats the passage.
SHORT_WORDS = (5, 10)
_UP = r"A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŒÆ"
_NAME = rf"[{_UP}][\w’'-]*\w"  # a capitalised word
_NAME_LINK = r"(?:de|du|des|d['’]|von|van|der|la|le|di|da|del|of|the|y)"
_NAMES = rf"{_NAME}(?:\s+(?:{_NAME_LINK}\s*)?{_NAME})*"
_MONTHS_FR = "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre"
_MONTHS_EN = "January|February|March|April|May|June|July|August|September|October|November|December"
_YEAR = r"(?<![\d-])(?:1[0-9]{3}|20[0-9]{2})(?![\d,.]\d)(?!-\d)\b"
_NUMBER_FR = (r"\d{1,3}(?:[\s\u00a0\u202f.]\d{3})+(?:,\d+)?|\d+(?:,\d+)?|deux|trois|quatre|cinq|six|sept|huit|neuf"
              r"|dix|onze|douze|quinze|vingt|trente|quarante|cinquante|soixante|cent|mille")
_NUMBER_EN = (r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|two|three|four|five|six|seven|eight|nine|ten|eleven"
              r"|twelve|fifteen|twenty|thirty|forty|fifty|hundred|thousand")
_CLAUSE_SEP = re.compile(r"(?<!\d),|,(?!\d)|[;:()\[\]«»“”\"—–]|\s-\s")
_WORDS = re.compile(r"[\w’'-]+", re.U)
# Words that open a sentence with a capital but do not name anyone
_OPENERS = frozenset(fold(w) for w in (
    "après avant selon depuis pendant durant lors cependant toutefois ainsi enfin puis alors aujourd'hui parmi "
    "malgré outre sous contrairement d'après dès vers chaque certains plusieurs quelques tous toutes "
    "however although after before during since while when in on at this these those there many some each "
    "his her its their our my we they he she it everything nothing something all both now then here also first "
    "next let please note yes ok done"
).split())
# Words left dangling before a removed span ("jusqu'au", "plus de", "in")
_DANGLING = frozenset(fold(w) for w in (
    "de d' du des à au aux en le la les l' qu' jusqu' jusqu'au par sur dans plus près environ quelque moins "
    "of in at on the a an by about around nearly over"
).split())
_CONNECTORS = frozenset("et mais ou donc puis alors ainsi qui que dont car and but or so which that who".split())
_EN_STOP = frozenset("the a an of and is are was were to in for on with that this it by be as at from or not "
                     "have has had which its their his her because since when while after before during until "
                     "than then but so if".split())


# How often each rule is drawn among those that apply to a passage: "Quel …" and "Qui …" open most French
# questions (about a third and a sixth of PIAF's), "Combien" and "Pourquoi" few; kept flatter than those
# shares so that other corpora (how-to questions: "Comment …") are not starved.
RULE_WEIGHTS = {"which": 2.0, "who": 2.0, "when": 1.0, "where": 1.0, "what": 1.0, "how": 1.0, "how_many": 0.5,
                "why": 0.5}


@dataclass(frozen=True)
class Span:
    """An answer span in a sentence, and the question it gives."""

    start: int
    end: int
    lead: str  # the question word(s): "Quand", "Combien de salariés"
    rule: str
    keep: Keep = "around"


@dataclass(frozen=True)
class Question:
    text: str
    rule: str
    answer: str


# --- answer spans, French -----------------------------------------------------------------------------------

_DATE_FR = re.compile(rf"\b(?:(?:le|du|au)\s+)?(?:1er|\d{{1,2}})\s+(?:{_MONTHS_FR})\s+{_YEAR}", re.I)
_YEAR_FR = re.compile(rf"\b(?:(?:en|dès|depuis|vers|jusqu['’]en|à partir de|avant|après)\s+(?:l['’]an\s+)?)?{_YEAR}")
_CENTURY_FR = re.compile(r"\b(?:au|du|dès le|depuis le|vers le)\s+[IVXLC]+e\s+siècle")
_COUNT_FR = re.compile(rf"\b(?:{_NUMBER_FR})\s+"
                       r"(?:(?:millions?|milliards?|milliers|centaines|dizaines)\s+d(?:e\s+|['’]))?(?P<noun>[a-zàâäçéèêëîïôöùûüœ]{3,})\b")
_PLACE_FR = re.compile(rf"\b(?:à|au|aux|en|dans)\s+(?:la\s+|le\s+|les\s+|l['’])?(?P<name>{_NAMES})")
_AGENT_FR = re.compile(rf"\bpar\s+(?P<name>{_NAMES})")
_WHICH_FR = re.compile(rf"\b(?P<det>[Ll]e|[Ll]a|[Ll]es|[Ll]['’])\s*(?P<noun>[a-zàâäçéèêëîïôöùûüœ]{{3,}})\s+"
                       rf"(?:(?:de|du|des|d['’])\s*)?(?P<name>{_NAMES})")
_DEF_FR = re.compile(r"^(?P<x>[^,;:()]{2,60}?)\s+(?:est|était|fut|sont|étaient)\s+(?:(?:un|une|des|le|la|les)\s|l['’])",
                     re.I)
_WHY_FR = re.compile(r"\s*\b(?:parce qu(?:e\b|['’])|afin (?:de\b|d['’]|que\b|qu['’])|pour (?:que\b|qu['’])|"
                     r"pour (?=(?:ne |n['’]|se |s['’]|les? |la |l['’])?[a-zéèêàâîôû]+(?:er|ir|re|oir)\b)|"
                     r"en raison d(?:e\b|u\b|es\b|['’])|à cause d(?:e\b|u\b|es\b|['’]))", re.I)
_HOW_FR = re.compile(r"\s*\b(?:grâce (?:à|au|aux)\b|au moyen d(?:e\b|u\b|es\b|['’])|en [a-zéèêàâîôû]+ant\b)", re.I)
_ELIDE = re.compile(r"\b(de|que|le|la) (?=[aeiouyéèêàâîôûh])", re.I)


def _fr_times(s: str) -> Iterator[Span]:
    dates = [(m.start(), m.end()) for m in _DATE_FR.finditer(s)]
    for a, b in dates:
        yield Span(a, b, "Quand", "when")
    for m in _YEAR_FR.finditer(s):
        if not _noun_follows(s, m.end()) and not _inside(m.start(), dates):
            yield Span(m.start(), m.end(), "En quelle année", "when")
    for m in _CENTURY_FR.finditer(s):
        yield Span(m.start(), m.end(), "À quel siècle", "when")


def _fr_spans(s: str) -> Iterator[Span]:
    yield from _fr_times(s)
    for m in _COUNT_FR.finditer(s):
        noun = m.group("noun")
        if fold(noun) not in STOP_WORDS and not re.fullmatch(_MONTHS_FR, noun, re.I) and not _is_year(m.group()):
            age = noun == "ans" and re.search(r"(?:âgée?s? de|à l['’]âge de|à)\s*$", s[: m.start()]) is not None
            lead = "À quel âge" if age else "Combien d'années" if noun == "ans" else _elide(f"Combien de {noun}")
            yield Span(m.start(), m.end(), lead, "how_many")
    for m in _PLACE_FR.finditer(s):
        if _is_name(m.group("name")) and not re.match(r"\s*\d", s[m.end():]):  # "à Section 16.2"
            yield Span(m.start(), m.end(), "Où", "where")
    yield from _subject(s, "Qui")
    for m in _WHICH_FR.finditer(s):
        if _is_name(m.group("name")) and fold(m.group("noun")) not in STOP_WORDS:
            det = m.group("det").lower()
            which = {"la": "Quelle", "les": "Quels"}.get(det, "Quel")
            yield Span(m.start(), m.end(), f"{which} {m.group('noun')}", "which")
    for m in _AGENT_FR.finditer(s):
        if _is_name(m.group("name")):
            yield Span(m.start(), m.end(), "Par qui", "who")
    yield from _causes(s, _WHY_FR, "Pourquoi", _HOW_FR, "Comment")


# --- answer spans, English ----------------------------------------------------------------------------------

_DATE_EN = re.compile(rf"\b(?:on\s+)?(?:(?:{_MONTHS_EN})\s+\d{{1,2}},?\s+|\d{{1,2}}\s+(?:{_MONTHS_EN})\s+){_YEAR}")
_YEAR_EN = re.compile(rf"\b(?:(?:in|since|by|until|around|after|before)\s+)?{_YEAR}")
_COUNT_EN = re.compile(rf"\b(?:{_NUMBER_EN})\s+(?:(?:million|billion|thousand|hundred)s?\s+(?:of\s+)?)?"
                       r"(?P<noun>[a-z]{3,})\b")
_PLACE_EN = re.compile(rf"\b(?:in|at|near)\s+(?:the\s+)?(?P<name>{_NAMES})")
_AGENT_EN = re.compile(rf"\bby\s+(?P<name>{_NAMES})")
_WHICH_EN = re.compile(rf"\b[Tt]he\s+(?P<noun>[a-z]{{3,}})\s+(?:of\s+)?(?P<name>{_NAMES})")
_DEF_EN = re.compile(r"^(?P<x>[^,;:()]{2,60}?)\s+(?:is|was|are|were)\s+(?:a|an|the|one of the)\s", re.I)
_WHY_EN = re.compile(r"\s*\b(?:because|in order to|so that|due to|since it)\b", re.I)
_HOW_EN = re.compile(r"\s*\b(?:by [a-z]+ing|using)\b", re.I)


def _en_spans(s: str) -> Iterator[Span]:
    dates = [(m.start(), m.end()) for m in _DATE_EN.finditer(s)]
    for a, b in dates:
        yield Span(a, b, "When", "when")
    for m in _YEAR_EN.finditer(s):
        if not _noun_follows(s, m.end()) and not _inside(m.start(), dates):
            yield Span(m.start(), m.end(), "In what year", "when")
    for m in _COUNT_EN.finditer(s):
        noun = m.group("noun")
        if noun not in _EN_STOP and not re.fullmatch(_MONTHS_EN, noun, re.I) and not _is_year(m.group()):
            yield Span(m.start(), m.end(), f"How many {noun}", "how_many")
    for m in _PLACE_EN.finditer(s):
        if _is_name(m.group("name")) and not re.match(r"\s*\d", s[m.end():]):
            yield Span(m.start(), m.end(), "Where", "where")
    yield from _subject(s, "Who")
    for m in _WHICH_EN.finditer(s):
        if _is_name(m.group("name")) and m.group("noun") not in _EN_STOP:
            yield Span(m.start(), m.end(), f"Which {m.group('noun')}", "which")
    for m in _AGENT_EN.finditer(s):
        if _is_name(m.group("name")):
            yield Span(m.start(), m.end(), "By whom", "who")
    yield from _causes(s, _WHY_EN, "Why", _HOW_EN, "How")


# --- shared span helpers ------------------------------------------------------------------------------------


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


def _is_year(text: str) -> bool:
    return re.match(_YEAR, text) is not None and re.match(r"\d{4}\s+[a-z]", text) is None


def _noun_follows(s: str, end: int) -> bool:
    """A content word right after a year-like number: a count ("1500 soldats"), not a date."""
    m = re.match(r"\s+([a-zàâäçéèêëîïôöùûüœ]{3,})\b", s[end:])
    return m is not None and fold(m.group(1)) not in STOP_WORDS and m.group(1) not in _EN_STOP


def _is_name(name: str) -> bool:
    first = fold(name.split()[0].replace("’", "'"))
    return first not in _OPENERS and first not in STOP_WORDS and first not in _EN_STOP and len(name) > 2


def _subject(s: str, lead: str) -> Iterator[Span]:
    """A capitalised name opening the sentence and followed by a lower-case word (its verb)."""
    m = re.match(rf"(?P<name>{_NAMES})\s+(?P<next>[a-zàâäçéèêëîïôöùûü][\w’']*)", s)
    if not m or not _is_name(m.group("name")) or m.group("next") in ("de", "du", "des", "of", "and", "et"):
        return
    if len(m.group("name").split()) == 1 and not _verb_like(m.group("next")):
        return  # one capitalised word is often a common noun opening the sentence ("Parmi", "Cette")
    yield Span(0, m.end("name"), lead, "who")


_VERBS = frozenset("est a fut était avait aurait sera devient reste meurt naît né née publie fonde crée écrit "
                   "is was has had became becomes died wrote founded created published".split())


def _verb_like(word: str) -> bool:
    return word in _VERBS or word.endswith(("ait", "èrent", "ura", "ed"))


def _causes(s: str, why: re.Pattern[str], why_lead: str, how: re.Pattern[str], how_lead: str) -> Iterator[Span]:
    """A cause, purpose or means: the answer runs from its cue to the end of the clause."""
    for pattern, lead, rule in ((why, why_lead, "why"), (how, how_lead, "how")):
        for m in pattern.finditer(s):
            end = _clause_bounds(s, m.start(), m.end())[1]
            yield Span(m.start(), end, lead, rule, "before")


def _definition(s: str, lang: Lang) -> Question | None:
    m = (_DEF_FR if lang == "fr" else _DEF_EN).match(s)
    if not m:
        return None
    x = m.group("x").strip()
    head = fold(x.split()[0].replace("’", "'"))
    if head in _CONNECTORS or (head in _EN_STOP and head not in ("a", "an", "the")) or not analyze(x):
        return None
    pronouns = {"il", "elle", "ils", "elles", "ce", "c'", "cela", "ceci", "it", "this", "he", "she", "they", "there"}
    if head in pronouns or head.startswith("c'") or len(x.split()) > 8:
        return None
    if lang == "en":
        x = re.sub(r"^(A|An|The) ", lambda d: d.group(1).lower() + " ", x)
        return Question(f"What is {x}?", "what", s[m.end():].strip())
    first, *rest = x.split()
    if first in ("Le", "La", "Les", "Un", "Une", "L'", "L’") or first.startswith(("L'", "L’")):
        x = " ".join([first[0].lower() + first[1:], *rest])
    return Question(_elide(f"Qu'est-ce que {x}").replace("’", "'") + " ?", "what", s[m.end():].strip())


# --- from a span to a question ------------------------------------------------------------------------------


def _elide(text: str) -> str:
    return _ELIDE.sub(lambda m: m.group(1)[:-1] + "'", text)


def _clause_bounds(s: str, start: int, end: int, widen: int = 0) -> tuple[int, int]:
    """The clause around a span (``widen`` more clauses on each side): between punctuation marks, a cause
    cue ("parce que", "because") also ending the clause before it."""
    cuts = sorted(m.start() for p in (_CLAUSE_SEP, _WHY_FR, _WHY_EN) for m in p.finditer(s))
    lefts = [c + 1 for c in cuts if c < start]
    rights = [c for c in cuts if c >= end]
    left = lefts[-1 - widen] if len(lefts) > widen else 0
    right = rights[widen] if len(rights) > widen else len(s)
    return left, right


def _content(words: list[str]) -> int:
    """Content words (analysed terms that are not bare numbers)."""
    return sum(not t.isdigit() for t in analyze(" ".join(words)))


def _trim(words: list[str], lang: Lang) -> list[str]:
    stop = STOP_WORDS if lang == "fr" else _EN_STOP
    while words and fold(words[0]) in _CONNECTORS:
        words = words[1:]
    while words and (fold(words[-1]) in stop or fold(words[-1]) in _CONNECTORS or words[-1].endswith(("'", "’"))):
        words = words[:-1]
    return words


def _lower_first(words: list[str]) -> list[str]:
    """The sentence's first word in lower case when it is a common word ("Le", "Il"), not a name."""
    if words and (fold(words[0]) in STOP_WORDS or fold(words[0]) in _EN_STOP or fold(words[0]) in _OPENERS):
        return [words[0].lower(), *words[1:]]
    return words


def build(s: str, span: Span, lang: Lang, max_words: int = MAX_WORDS) -> Question | None:
    """The question for one answer span: the span removed, the rest of its clause (with its neighbours when
    it is too thin) cut to ``max_words`` around the gap, the question word in front."""
    for widen in range(3):
        lo, hi = _clause_bounds(s, span.start, span.end, widen)
        before = _WORDS.findall(_CLAUSE_SEP.sub(" ", s[lo : span.start]))
        after = [] if span.keep == "before" else _WORDS.findall(_CLAUSE_SEP.sub(" ", s[span.end : hi]))
        if _content(before + after) >= 3:
            break
    while before and fold(before[-1].replace("’", "'")) in _DANGLING:
        before = before[:-1]
    if lo == 0 and before:
        before = _lower_first(before)
    elif span.start == 0 and after:
        after = _lower_first(after)
    max_words -= len(span.lead.split()) - 1
    nb = min(len(before), max(max_words - len(after), max_words // 2))
    kept = _trim(before[len(before) - nb :] + after[: max_words - nb], lang)
    if _content(kept) < 2:
        return None
    answer = s[span.start : span.end].strip()
    body = " ".join([span.lead, *kept])
    return Question(body + (" ?" if lang == "fr" else "?"), span.rule, answer)


def questions(sentence: str, lang: Lang | None = None, max_words: int = MAX_WORDS) -> list[Question]:
    """Every question the rules make from one sentence (none when no rule applies)."""
    s = " ".join(sentence.split()).rstrip(" .!?…")
    if len(s.split()) < 4:
        return []
    la: Lang = lang or ("en" if language(s) == "en" else "fr")
    out = [q for sp in (_fr_spans(s) if la == "fr" else _en_spans(s)) if (q := build(s, sp, la, max_words)) is not None]
    d = _definition(s, la)
    if d is not None:
        out.append(d)
    seen: set[str] = set()
    return [q for q in out if not (q.text in seen or seen.add(q.text))]  # type: ignore[func-returns-value]


_CODE = re.compile(r"[`{}=<>|\\$_]|://|\w[/.]\w")


def prose(sentence: str) -> bool:
    """A sentence of running text, not code, a path or a log line: questions are asked about prose."""
    words = sentence.split()
    digits = sum(any(c.isdigit() for c in w) for w in words)
    return _CODE.search(sentence) is None and digits <= max(1, len(words) // 4)


def question(text: str, rng: random.Random) -> str | None:
    """One question about a passage: a rule drawn at random (``RULE_WEIGHTS``) among those that apply to any
    of its sentences, then one of that rule's questions; None when no rule applies."""
    lang: Lang = "en" if language(text) == "en" else "fr"
    short = rng.randint(*SHORT_WORDS)
    found = [q for s in sentences(text) if 5 <= len(s.split()) <= 60 and prose(s) for q in questions(s, lang, short)]
    if not found:
        return None
    rules = sorted({q.rule for q in found})
    rule = rng.choices(rules, [RULE_WEIGHTS.get(r, 1.0) for r in rules])[0]
    return rng.choice([q for q in found if q.rule == rule]).text
