"""Shared logic of the message-export readers (CSV and JSON from phone/chat extraction tools).

Columns are recognised by their header names, French or English, case and accents ignored.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from pisteur.types import KIND_MESSAGE, Segment

# Role -> accepted header names (normalised: lower case, no accents, single spaces), best first.
FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text", "texte", "body", "message", "messages", "contenu", "content", "corps", "msg", "sms",
             "message text", "texte du message", "contenu du message", "message body", "corps du message"),
    "sender": ("sender", "from", "expediteur", "auteur", "author", "emetteur", "de", "sender name",
               "from name", "nom expediteur", "numero expediteur", "sender number", "from number", "source"),
    "recipient": ("recipient", "to", "destinataire", "destinataires", "recipients", "receiver", "a", "dest",
                  "to name", "numero destinataire", "recipient number", "to number"),
    "date": ("date", "timestamp", "horodatage", "time", "datetime", "date time", "date heure", "heure",
             "sent", "date envoi", "date d envoi", "sent at", "created at", "date de reception", "received"),
    "conversation": ("conversation", "thread", "conversation id", "thread id", "fil", "discussion", "chat",
                     "chat id", "fil de discussion", "groupe", "group"),
}  # fmt: skip
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# A header containing a text alias but also one of these words is metadata about the text, not the text
# ("Message ID", "content_type", "Nb messages").
_NOT_TEXT = {"id", "type", "status", "statut", "count", "nb", "nombre", "number", "numero", "num", "length",
             "size", "taille", "format", "encoding", "attachment", "attachments", "piece", "pieces", "uid"}


def norm_header(name: Any) -> str:
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    return _NON_ALNUM.sub(" ", text).strip()


def map_columns(headers: list[Any]) -> dict[str, Any]:
    """role -> header (as given) for the roles found. Exact alias first, then alias as a whole word."""
    normed = {h: norm_header(h) for h in headers}
    found: dict[str, Any] = {}
    used: set[Any] = set()
    for role, aliases in FIELDS.items():
        for alias in aliases:  # exact match, by alias priority
            hit = next((h for h in headers if normed[h] == alias and h not in used), None)
            if hit is not None:
                found[role] = hit
                used.add(hit)
                break
    for role, aliases in FIELDS.items():
        if role in found:
            continue
        for alias in (a for a in aliases if len(a) > 2):  # "message text", "date d'envoi (UTC)"...
            hit = next(
                (
                    h
                    for h in headers
                    if h not in used
                    and f" {alias} " in f" {normed[h]} "
                    and not (role == "text" and _NOT_TEXT & set(normed[h].split()))
                ),
                None,
            )
            if hit is not None:
                found[role] = hit
                used.add(hit)
                break
    return found


_FORMATS = (
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d/%m/%y %H:%M:%S", "%d/%m/%y %H:%M", "%d/%m/%y",
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%d/%m/%Y à %H:%M", "%d/%m/%Y %Hh%M",
)  # fmt: skip


def normalise_date(value: Any) -> str | None:
    """ISO-8601 for the common export formats (ISO, French day-first, epoch s/ms); None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and re.fullmatch(r"\d{9,13}", value.strip())):
        num = float(value)
        if num > 1e11:  # milliseconds
            num /= 1000
        if 1e8 < num < 4e9:
            return datetime.fromtimestamp(num, tz=UTC).isoformat()
        return None
    text = str(value).strip()
    if not text:
        return None
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return datetime.fromisoformat(iso).isoformat()
    except ValueError:
        pass
    cleaned = re.sub(r"\s+", " ", text.replace(",", " ")).strip()
    for fmt in _FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).isoformat()
        except ValueError:
            continue
    return None


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):  # {"name": ..., "phone": ...}
        for key in ("name", "nom", "display_name", "phone", "number", "numero", "id"):
            if value.get(key):
                return str(value[key]).strip()
        return None
    if isinstance(value, list):
        items = [s for s in (_scalar(v) for v in value) if s]
        return ", ".join(items) or None
    text = str(value).strip()
    return text or None


def _text(value: Any) -> str | None:
    """Message text; Telegram-style rich text is a list of strings and ``{"type": …, "text": …}``."""
    if isinstance(value, list):
        parts = [v if isinstance(v, str) else str(v.get("text", "")) if isinstance(v, dict) else "" for v in value]
        return "".join(parts).strip() or None
    return _scalar(value) if not isinstance(value, dict) else _scalar(value.get("text") or value.get("body"))


def message_segment(record: dict[Any, Any], columns: dict[str, Any], row: int, line: int | None) -> Segment | None:
    text = _text(record.get(columns["text"]))
    if not text:
        return None
    raw_date = _scalar(record.get(columns["date"])) if "date" in columns else None
    ts = normalise_date(record.get(columns["date"])) if "date" in columns else None
    meta = {
        "sender": _scalar(record.get(columns["sender"])) if "sender" in columns else None,
        "recipient": _scalar(record.get(columns["recipient"])) if "recipient" in columns else None,
        "conversation": _scalar(record.get(columns["conversation"])) if "conversation" in columns else None,
        "ts_first": ts,
        "ts_last": ts,
        "date": raw_date,
        "row": row,
    }
    return Segment(text, KIND_MESSAGE, meta, line, line)
