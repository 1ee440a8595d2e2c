"""Narrow a segment's line range and uuids to one chunk of its text, using ``Segment.anchors``.

Claude Code exchanges are long (hundreds of messages); the chunker cuts them into many chunks. Each
chunk should report only the lines and message uuids it covers, not the whole exchange's. A reader
that knows which record produced which part of the text records it in ``Segment.anchors`` as
``(char offset, line number, uuid)``; :func:`narrow` maps a character span of the text back to them.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from pisteur.types import Segment


def narrow(segment: Segment, start: int, end: int) -> dict[str, Any]:
    """Line range and uuids of ``segment.text[start:end]``.

    Returns ``{"line_start", "line_end", "uuids"}`` (uuids in text order, de-duplicated); falls back
    to the segment's own values when it has no anchors.
    """
    anchors = segment.anchors
    if not anchors:
        return {
            "line_start": segment.line_start,
            "line_end": segment.line_end,
            "uuids": list(segment.meta.get("uuids") or []),
        }
    offsets = [a[0] for a in anchors]
    first = max(0, bisect_right(offsets, start) - 1)  # the anchor whose part contains ``start``
    last = max(first, bisect_right(offsets, max(start, end - 1)) - 1)
    covered = anchors[first : last + 1]
    lines = [a[1] for a in covered]
    return {
        "line_start": min(lines),
        "line_end": max(lines),
        "uuids": list(dict.fromkeys(a[2] for a in covered if a[2])),
    }


def locate(text: str, piece: str, cursor: int = 0) -> tuple[int, int]:
    """Character span of ``piece`` (a chunk cut from ``text``, maybe stripped) searching from ``cursor``;
    falls back to the start of the text when the piece was rewritten and cannot be found."""
    at = text.find(piece, cursor)
    if at < 0:
        at = text.find(piece)
    if at < 0:
        return cursor, min(len(text), cursor + len(piece))
    return at, at + len(piece)


def narrow_pieces(segment: Segment, pieces: list[str]) -> list[dict[str, Any]]:
    """:func:`narrow` for consecutive (possibly overlapping, stripped) pieces cut from ``segment.text``,
    in order: what a chunker needs to give each chunk its own ``line_start``/``line_end``/``uuids``."""
    out, cursor = [], 0
    for piece in pieces:
        start, end = locate(segment.text, piece, cursor)
        out.append(narrow(segment, start, end))
        cursor = start + 1
    return out
