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

_LIST_KEYS = ("messages", "message", "sms", "items", "data", "records", "conversation", "conversations",
              "chats", "chat", "list", "threads", "results")
_PROBE_BYTES = 65536
_TEXT_ALIASES = "|".join(re.escape(a) for a in FIELDS["text"] if " " not in a)
_TEXT_KEY = re.compile(r'"(?:' + _TEXT_ALIASES + r')"\s*:', re.I)


def _has_text_key(obj: dict[str, Any]) -> bool:
    """A message object: a text-like field, and no list of objects under a container key (a chat with its
    ``messages`` is a conversation, not a message)."""
    for key, value in obj.items():
        if str(key).lower() in _LIST_KEYS and isinstance(value, list) and value and isinstance(value[0], dict):
            return False
    return "text" in map_columns(list(obj))


def find_messages(doc: Any, conversation: str | None = None, depth: int = 0) -> list[tuple[dict, str | None]]:
    """(message object, conversation name) pairs: a list of message objects, an object holding one under
    ``messages``/``sms``/…, or several conversations each holding its ``messages`` (Telegram's
    ``{"chats": {"list": [{"name": …, "messages": […]}]}}``)."""
    if depth > 4:
        return []
    if isinstance(doc, list):
        objs = [m for m in doc if isinstance(m, dict)]
        if any(_has_text_key(m) for m in objs[:50]):
            return [(m, conversation) for m in objs]
        out: list[tuple[dict, str | None]] = []
        for obj in objs:  # a list of conversations
            name = obj.get("name") or obj.get("title") or obj.get("id")
            out.extend(find_messages(obj, str(name) if name is not None else conversation, depth + 1))
        return out
    if isinstance(doc, dict):
        for key in doc:
            if str(key).lower() in _LIST_KEYS and isinstance(doc[key], list | dict):
                name = doc.get("name") or doc.get("title")
                found = find_messages(doc[key], str(name) if name else conversation, depth + 1)
                if found:
                    return found
    return []


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
        found = find_messages(doc)
        if not found:
            objs = doc if isinstance(doc, list) else [doc]
            keys = list(dict.fromkeys(str(k) for m in objs[:200] if isinstance(m, dict) for k in m))
            if not keys:
                raise SkipFile("JSON file is not a message export (no list of message objects)")
            raise SkipFile(f"not a message export: no text/message field (fields: {', '.join(keys)[:200]})")
        keys_all: list[Any] = list(dict.fromkeys(k for m, _ in found[:500] for k in m))
        columns = map_columns(keys_all)
        if "sender" not in columns and "date" not in columns:  # a todo list, a config: not messages
            shown = ", ".join(str(k) for k in keys_all)[:200]
            raise SkipFile(f"not a message export: text but no sender or date field (fields: {shown})")
        segments = []
        for row, (message, conversation) in enumerate(found, start=1):
            seg = message_segment(message, columns, row, row)
            if seg is not None:
                if seg.meta["conversation"] is None:
                    seg.meta["conversation"] = conversation
                segments.append(seg)
        if not segments:
            raise SkipFile("message export without any message text")
        return ParseResult(segments)
