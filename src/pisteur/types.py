"""Plain data types passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Kinds of indexed text. Claude Code kinds first, then documents.
KIND_EXCHANGE = "exchange"  # a user turn and the assistant's answer (text + tool calls)
KIND_SUMMARY = "summary"  # compaction summary or legacy `summary` record
KIND_TOOL_RESULT = "tool_result"
KIND_THINKING = "thinking"
KIND_DOCUMENT = "document"  # txt/md/pdf/docx/html/eml passage
KIND_MESSAGE = "message"  # one SMS/chat message from a CSV/JSON export
KINDS = (KIND_EXCHANGE, KIND_SUMMARY, KIND_TOOL_RESULT, KIND_THINKING, KIND_DOCUMENT, KIND_MESSAGE)


@dataclass
class Segment:
    """A piece of text produced by a reader, before chunking.

    A segment is never split across kinds; the chunker may split a long segment into several chunks,
    each inheriting ``meta``. ``byte_start``/``byte_end`` locate it in the source file (JSONL line
    offsets for sessions) so that an appended file can be resumed and a hit can be read in context.
    """

    text: str
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    line_start: int | None = None  # 1-based, inclusive
    line_end: int | None = None
    byte_start: int | None = None
    byte_end: int | None = None
    # Optional (char offset in ``text``, 1-based source line, message uuid) of each contributing record,
    # ascending: lets the chunker give each chunk its own line range and uuids (pisteur.ingest.anchors).
    anchors: list[tuple[int, int, str | None]] | None = None


@dataclass
class ParseResult:
    """What a reader returns for one source file."""

    segments: list[Segment]
    warnings: list[str] = field(default_factory=list)  # per-line problems that did not stop the file
    skipped_lines: int = 0
    # For append-only sources (JSONL): byte offset from which a later read must restart
    # to pick up appended lines (the start of the last, possibly incomplete, unit).
    resume_offset: int | None = None


class SkipFile(Exception):
    """Raised by a reader when the whole file cannot be indexed (the message is the one-line reason)."""


@dataclass
class Chunk:
    text: str
    kind: str
    meta: dict[str, Any]
    ord: int = 0  # position within the source
    line_start: int | None = None
    line_end: int | None = None
    byte_start: int | None = None
    byte_end: int | None = None
    tokens: int = 0


@dataclass
class Hit:
    id: int
    score: float
    kind: str
    source: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    explain: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "score": round(float(self.score), 6),
            "kind": self.kind,
            "source": self.source,
            "text": self.text,
        }
        out.update(self.meta)
        if self.explain:
            out["explain"] = self.explain
        return out
