"""JSON exports of messages: a list of objects, or an object holding one under ``messages`` (or a
similar key). One segment per message; a JSON file that is not a message export is skipped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pisteur.ingest.base import register
from pisteur.ingest.common import read_bytes
from pisteur.ingest.messages_common import FIELDS, map_columns, message_segment
from pisteur.ingest.textcodec import decode_bytes
from pisteur.types import ParseResult, SkipFile

_LIST_KEYS = ("messages", "message", "sms", "items", "data", "records", "conversation", "chats")
_PROBE_BYTES = 65536
_TEXT_ALIASES = "|".join(re.escape(a) for a in FIELDS["text"] if " " not in a)
_TEXT_KEY = re.compile(r'"(?:' + _TEXT_ALIASES + r')"\s*:', re.I)


def find_messages(doc: Any) -> list[dict[str, Any]] | None:
    if isinstance(doc, list):
        return [m for m in doc if isinstance(m, dict)] if any(isinstance(m, dict) for m in doc) else None
    if isinstance(doc, dict):
        for key in doc:
            if str(key).lower() in _LIST_KEYS and isinstance(doc[key], list):
                return find_messages(doc[key])
    return None


@register
class JsonMessagesReader:
    name = "json"
    extensions = (".json",)

    def probe(self, path: Path) -> str | None:
        """Cheap look at the head: a JSON array/object with a text-like key."""
        try:
            with path.open("rb") as fh:
                head = fh.read(_PROBE_BYTES)
        except OSError as exc:
            return f"cannot read: {exc.strerror or exc}"
        text = head.decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
        if not text:
            return "empty file"
        if text[0] not in "[{":
            return "not JSON"
        if not _TEXT_KEY.search(text):
            return "JSON file is not a message export (no text/message field)"
        return None

    def read(self, path: Path, start_offset: int = 0) -> ParseResult:
        text, _ = decode_bytes(read_bytes(path))
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise SkipFile(f"invalid JSON ({str(exc)[:80]})") from None
        messages = find_messages(doc)
        if not messages:
            raise SkipFile("JSON file is not a message export (no list of message objects)")
        keys: list[Any] = list(dict.fromkeys(k for m in messages[:200] for k in m))
        columns = map_columns(keys)
        if "text" not in columns:
            shown = ", ".join(str(k) for k in keys)[:200]
            raise SkipFile(f"not a message export: no text/message field (fields: {shown})")
        segments = []
        for row, message in enumerate(messages, start=1):
            seg = message_segment(message, columns, row, row)
            if seg is not None:
                segments.append(seg)
        if not segments:
            raise SkipFile("message export without any message text")
        return ParseResult(segments)
