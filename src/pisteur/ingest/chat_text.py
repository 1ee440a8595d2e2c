"""Chat exports saved as plain text (WhatsApp "Exporter la discussion" and look-alikes).

Lines such as ``08/03/2024 23:04 - Kevin: tu vas regretter`` (Android) or
``[08/03/2024 23:04:12] Kevin: tu vas regretter`` (iOS) start a message; other lines continue the
previous one. The text reader hands a ``.txt`` file over to :func:`parse_chat` when most of its first
lines look like that, and indexes one ``message`` segment per message instead of text blocks.
"""

from __future__ import annotations

import re
from datetime import datetime

from pisteur.ingest.messages_common import normalise_date
from pisteur.types import KIND_MESSAGE, Segment

_LINE = re.compile(
    r"^\u200e?\[?(?P<date>\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})[,\s]+(?:à\s+)?"
    r"(?P<time>\d{1,2}[:h.]\d{2}(?::\d{2})?(?:\s?[AaPp]\.?[Mm]\.?)?)\]?\s*(?:-\s*)?"
    r"(?P<sender>[^:]{1,60}?):\s(?P<text>.*)$"
)
_SYSTEM = re.compile(r"^\u200e?\[?\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}[,\s]+\d{1,2}[:h.]\d{2}.*?\]?\s*-\s[^:]*$")
_MEDIA = re.compile(r"^[\u200e<]*(?:Médias omis|<Media omitted>|image absente|vidéo absente|media omitted)>?$", re.I)


def looks_like_chat(lines: list[str]) -> bool:
    sample = [line for line in lines[:80] if line.strip()][:40]
    if len(sample) < 3:
        return False
    hits = sum(bool(_LINE.match(line) or _SYSTEM.match(line)) for line in sample)
    return hits / len(sample) >= 0.6


def _when(date: str, time: str) -> str | None:
    date, time = date.replace(".", "/").replace("-", "/"), time.replace("h", ":").replace(".", ":")
    iso = normalise_date(f"{date} {time}")
    if iso:
        return iso
    for fmt in ("%m/%d/%y %I:%M %p", "%m/%d/%Y %I:%M %p", "%m/%d/%y %I:%M:%S %p", "%m/%d/%Y %I:%M:%S %p"):
        try:
            return datetime.strptime(f"{date} {time.upper().replace('.', '')}", fmt).isoformat()
        except ValueError:
            continue
    return None


def parse_chat(lines: list[str], conversation: str) -> list[Segment]:
    """One segment per message, with sender, date and line range; system lines are dropped."""
    out: list[Segment] = []
    current: Segment | None = None
    for number, line in enumerate(lines, start=1):
        m = _LINE.match(line)
        if m:
            current = None
            text = m.group("text").strip()
            if not text or _MEDIA.match(text):
                continue
            ts = _when(m.group("date"), m.group("time"))
            meta = {"sender": m.group("sender").strip(), "recipient": None, "conversation": conversation,
                    "ts_first": ts, "ts_last": ts, "date": f"{m.group('date')} {m.group('time')}",
                    "row": len(out) + 1}  # fmt: skip
            current = Segment(text, KIND_MESSAGE, meta, number, number)
            out.append(current)
        elif _SYSTEM.match(line):
            current = None
        elif current is not None and line.strip():
            current.text += "\n" + line.rstrip()
            current.line_end = number
    return out
