"""Validation of what users type: queries, result counts, kinds, dates, index options.

Shared by the command line, the HTTP API and the MCP tools so that the same mistake gets the same one-line
answer everywhere. Every function raises ``ValueError`` with a message that names the bad value and what is
allowed; callers turn it into an exit code 2 (CLI), a 422 (HTTP) or a tool error (MCP).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from pisteur.store.base import Filters
from pisteur.types import KINDS

MAX_K = 1000
PRECISIONS = ("float32", "float16", "int8", "binary")  # pisteur.store.quant.PRECISIONS (pinned by a test)
ANN = ("auto", "flat", "binary", "hnsw", "ivf")

DATE_HELP = ("use YYYY-MM-DD (or YYYY-MM, YYYY, an ISO date-time), or aujourd'hui, hier, avant-hier, 7j, "
             "2 semaines, 3 mois, 1 an (also today, yesterday, 7d, 2 weeks, 3 months, 1 year)")

_TODAY = {"aujourd'hui", "aujourdhui", "aujourd’hui", "today", "auj"}
_YESTERDAY = {"hier", "yesterday"}
_BEFORE_YESTERDAY = {"avant-hier", "avant hier", "avanthier"}
# unit words (French and English, with their abbreviations) -> days per unit
_UNITS = {
    "j": 1, "jour": 1, "jours": 1, "d": 1, "day": 1, "days": 1,
    "s": 7, "sem": 7, "semaine": 7, "semaines": 7, "w": 7, "wk": 7, "week": 7, "weeks": 7,
    "m": 30, "mois": 30, "month": 30, "months": 30,
    "a": 365, "an": 365, "ans": 365, "année": 365, "années": 365, "y": 365, "year": 365, "years": 365,
}
_RELATIVE = re.compile(r"^(?:il y a\s+)?(\d{1,4})\s*([a-zéèû]+)(?:\s+ago)?$")


def query(text: str | None) -> str:
    """The query, stripped; an empty or blank one is refused (it would return arbitrary hits)."""
    q = (text or "").strip()
    if not q:
        raise ValueError("empty query: give words to look for, e.g. pisteur search \"bug de migration\"")
    return q


def top_k(k: int | str, *, name: str = "-k", maximum: int = MAX_K) -> int:
    """A number of hits between 1 and ``maximum``."""
    try:
        n = int(k)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {k!r} is not a number: give a number of hits from 1 to {maximum}") from None
    if not 1 <= n <= maximum:
        raise ValueError(f"{name} {n}: the number of hits must be from 1 to {maximum}")
    return n


def kinds(values: Iterable[str] | None, *, name: str = "--kind") -> list[str] | None:
    """Chunk kinds (repeated or comma-separated); ``None`` when none is given."""
    if not values:
        return None
    out: list[str] = []
    for v in values:
        for part in str(v).split(","):
            part = part.strip().lower()
            if not part:
                continue
            if part not in KINDS:
                raise ValueError(f"{name} {part!r} is not a kind: use one of {', '.join(KINDS)}")
            out.append(part)
    return list(dict.fromkeys(out)) or None


def day(value: str | None, *, name: str = "--since", today: date | None = None) -> str | None:
    """An ISO date (or date-time) string from what a user types; ``None`` stays ``None``."""
    if value is None:
        return None
    raw = str(value).strip()
    text = raw.lower().replace("\u2019", "'")
    if not text:
        raise ValueError(f"{name}: empty date: {DATE_HELP}")
    ref = today or date.today()
    if text in _TODAY:
        return ref.isoformat()
    if text in _YESTERDAY:
        return (ref - timedelta(days=1)).isoformat()
    if text in _BEFORE_YESTERDAY:
        return (ref - timedelta(days=2)).isoformat()
    m = _RELATIVE.match(text)
    if m and m.group(2) in _UNITS:
        return (ref - timedelta(days=int(m.group(1)) * _UNITS[m.group(2)])).isoformat()
    return _iso(raw, name)


def _iso(raw: str, name: str) -> str:
    """Years, months and dates are checked as calendar dates; date-times by ``datetime.fromisoformat``."""
    try:
        if re.fullmatch(r"\d{4}", raw):
            return date(int(raw), 1, 1).isoformat()[:4]
        if re.fullmatch(r"\d{4}-\d{2}", raw):
            return date(int(raw[:4]), int(raw[5:]), 1).isoformat()[:7]
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            return date.fromisoformat(raw).isoformat()
        datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return raw
    except ValueError:
        pass
    raise ValueError(f"{name} {raw!r} is not a date: {DATE_HELP}")


def filters(*, kinds_: Iterable[str] | None = None, project: str | None = None, session: str | None = None,
            source: str | None = None, since: str | None = None, until: str | None = None,
            names: tuple[str, str, str] = ("--kind", "--since", "--until"), today: date | None = None) -> Filters:
    """Validated search filters (kinds known, dates parsed, the range not reversed)."""
    date_from = day(since, name=names[1], today=today)
    date_to = day(until, name=names[2], today=today)
    if date_from and date_to and date_from[:10] > date_to[:10]:
        raise ValueError(f"{names[1]} {date_from} is after {names[2]} {date_to}: the range is empty")
    return Filters(kinds=kinds(kinds_, name=names[0]), project=project or None, session=session or None,
                   source=source or None, date_from=date_from, date_to=date_to)


def precision(value: str | None) -> str | None:
    if value is None or value in PRECISIONS:
        return value
    raise ValueError(f"--precision {value!r} is not a precision: use one of {', '.join(PRECISIONS)}")


def ann(value: str | None) -> str | None:
    if value is None or value in ANN:
        return value
    raise ValueError(f"--ann {value!r} is not a vector index: use one of {', '.join(ANN)}")


def chunking(size: int | None, overlap: int | None, *, default_size: int = 128) -> None:
    """A chunk size of at least 1 token and an overlap smaller than it."""
    if size is not None and size < 1:
        raise ValueError(f"--chunk-size {size}: a chunk holds at least 1 token (default {default_size})")
    if overlap is not None and overlap < 0:
        raise ValueError(f"--chunk-overlap {overlap}: the overlap cannot be negative")
    eff = size if size is not None else default_size
    if overlap is not None and overlap >= eff:
        raise ValueError(f"--chunk-overlap {overlap} must be smaller than the chunk size ({eff} tokens)")


def index_options(*, precision_: str | None = None, ann_: str | None = None, chunk_size: int | None = None,
                  chunk_overlap: int | None = None) -> None:
    """Every index option a user can get wrong, checked before anything is opened."""
    precision(precision_)
    ann(ann_)
    chunking(chunk_size, chunk_overlap)
