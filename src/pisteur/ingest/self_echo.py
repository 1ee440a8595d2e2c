"""Self-echo filter: pisteur never indexes its own MCP output looping back into Claude Code sessions.

When Claude Code calls pisteur's MCP tools, the results (hits from past sessions) are written into the current
session as tool results. Indexing them would make every search result a new document that matches the same
queries next time (a peer's memory grew without bound that way). ``keep_segment`` drops them: tool results of
``mcp__pisteur__*`` tools (or carrying pisteur's ``"origin": "pisteur"`` stamp), and exchanges made of nothing
but calls to those tools. The indexer applies it to every run, manual or live.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pisteur.types import KIND_EXCHANGE, KIND_TOOL_RESULT, Segment

SELF_TOOL_PREFIX = "mcp__pisteur__"
_ORIGIN = re.compile(r'"origin"\s*:\s*"pisteur"')
_SELF_LINE = re.compile(r"^\[mcp__pisteur__[^\]\s]*\][^\n]*$", re.M)
_SPEAKER = re.compile(r"^(?:Assistant|User):\s*", re.M)


def _blocks(text: str, tools: Sequence[str]) -> list[str]:
    """Split a tool_result segment into its per-call blocks (each starts with the ``[Tool] ...`` line)."""
    names = sorted({t for t in tools if t} | {"tool"}, key=len, reverse=True)
    if not names:
        return [text]
    head = re.compile(r"\n\n(?=\[(?:" + "|".join(re.escape(n) for n in names) + r")[\]\s])")
    return head.split(text)


def _is_self_block(block: str) -> bool:
    b = block.lstrip()
    return b.startswith("[" + SELF_TOOL_PREFIX) or bool(_ORIGIN.search(b[:2000]))


def is_self_echo(segment: Segment) -> bool:
    """True when the whole segment is pisteur's own MCP traffic looping back."""
    if segment.kind == KIND_TOOL_RESULT:
        blocks = [b for b in _blocks(segment.text, (segment.meta or {}).get("tools") or []) if b.strip()]
        return bool(blocks) and all(_is_self_block(b) for b in blocks)
    if segment.kind == KIND_EXCHANGE:
        if SELF_TOOL_PREFIX not in segment.text:
            return False
        rest = _SELF_LINE.sub("", _SPEAKER.sub("", segment.text))
        return not rest.strip()
    return False


def keep_segment(segment: Segment) -> bool:
    """Segment filter for ``index_paths(segment_filter=...)``: False drops the segment. A tool-result
    segment mixing pisteur's results with other tools' keeps the others (the segment's text is edited)."""
    if is_self_echo(segment):
        return False
    if segment.kind == KIND_TOOL_RESULT and (SELF_TOOL_PREFIX in segment.text or _ORIGIN.search(segment.text)):
        blocks = _blocks(segment.text, (segment.meta or {}).get("tools") or [])
        kept = [b for b in blocks if b.strip() and not _is_self_block(b)]
        if not kept:
            return False
        segment.text = "\n\n".join(kept)
    return True
