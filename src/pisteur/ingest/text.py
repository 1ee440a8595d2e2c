"""Plain text and Markdown (``.txt``, ``.md``): encoding detection, sections at Markdown headings."""

from __future__ import annotations

import re
from pathlib import Path

from pisteur.ingest.base import register
from pisteur.ingest.chat_text import looks_like_chat, parse_chat
from pisteur.ingest.common import doc_meta, line_segments, paragraph_spans, read_bytes
from pisteur.ingest.textcodec import clean_text, decode_bytes
from pisteur.types import ParseResult, SkipFile

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def load_text(path: Path) -> tuple[list[str], str]:
    text, encoding = decode_bytes(read_bytes(path))
    text = clean_text(text)
    if not text.strip():
        raise SkipFile("empty file (whitespace only)")
    return text.split("\n"), encoding


def markdown_headings(lines: list[str]) -> list[tuple[int, str]]:
    """(line index, heading text) of ATX headings outside fenced code blocks."""
    out, in_fence = [], False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else _HEADING.match(line)
        if m:
            out.append((i, m.group(2)))
    return out


@register
class TextReader:
    name = "text"
    extensions = (".txt", ".md", ".markdown", ".text")

    def probe(self, path: Path) -> str | None:
        return None

    def read(self, path: Path, start_offset: int = 0) -> ParseResult:
        lines, encoding = load_text(path)
        title = path.stem
        base = doc_meta(title, encoding=encoding)
        if path.suffix.lower() not in (".md", ".markdown"):
            if looks_like_chat(lines):  # a WhatsApp-style chat export: one segment per message
                messages = parse_chat(lines, conversation=title)
                if messages:
                    return ParseResult(messages)
            return ParseResult(line_segments(lines, paragraph_spans(lines), base_meta=base))
        heads = markdown_headings(lines)
        h1 = next((t for i, t in heads if lines[i].startswith("# ")), None)
        base["title"] = h1 or title
        starts = [0] + [i for i, _ in heads if i > 0]
        spans: list[tuple[int, int]] = []
        for a, b in zip(starts, starts[1:] + [len(lines)], strict=True):
            spans.extend((s + a, e + a) for s, e in paragraph_spans(lines[a:b], 20_000))
        names = dict(heads)

        def section(start: int, end: int) -> dict[str, str | None]:
            before = [i for i in names if i <= start]
            return {"section": names[max(before)] if before else None}

        return ParseResult(line_segments(lines, spans, section, base))
