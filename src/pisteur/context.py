"""A hit in context: the neighbouring turns of a session, the tool call behind a tool output, a session title.

Shared by the ``read`` MCP tool, the HTTP API and ``pisteur read``. Works on any store with ``get`` and
``neighbours`` (chunks of the same source by position).

In a Claude Code session one exchange (a user turn, the assistant's answer and its tool calls) is stored as
several chunks: the exchange text cut to the model's length, then its thinking, then its tool outputs. They
share the exchange's first byte offset in the session file (``byte_start``), which is how the chunks of one
turn are told apart from the next turn's here. In a document or a message export each chunk is its own turn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pisteur.types import Hit

SESSION_KINDS = frozenset({"exchange", "summary", "tool_result", "thinking"})
TURN_KINDS = frozenset({"exchange", "summary"})
MAX_SPAN = 1 << 14  # chunks fetched on each side at most (a session of ~16k chunks)
TITLE_CHARS = 80
_TAG = re.compile(r"</?[A-Za-z][\w-]*>")


class ChunkReader(Protocol):
    def get(self, ids: Sequence[int]) -> list[Hit]: ...

    def neighbours(self, chunk_id: int, before: int = 1, after: int = 1) -> list[Hit]: ...


@dataclass(frozen=True)
class _Group:
    """The chunks of one turn (session) or one chunk (document), in source order."""

    hits: tuple[Hit, ...]

    def turn(self, allowed: frozenset[str]) -> list[Hit]:
        return [h for h in self.hits if h.kind in allowed]


def _ord(h: Hit) -> int:
    return int(h.meta.get("ord") or 0)


def _turn_key(h: Hit) -> tuple[str, int]:
    start = h.meta.get("byte_start")
    if h.kind in SESSION_KINDS and start is not None:
        return ("turn", int(start))
    return ("chunk", h.id)


def _groups(window: list[Hit]) -> list[_Group]:
    out: list[list[Hit]] = []
    last: tuple[str, int] | None = None
    for h in sorted(window, key=lambda h: (_ord(h), h.id)):
        key = _turn_key(h)
        if out and key == last:
            out[-1].append(h)
        else:
            out.append([h])
        last = key
    return [_Group(tuple(g)) for g in out]


def _allowed(hit: Hit) -> frozenset[str]:
    return TURN_KINDS if hit.kind in SESSION_KINDS else frozenset({hit.kind})


def _take(groups: Sequence[_Group], n: int, allowed: frozenset[str]) -> tuple[list[list[Hit]], bool]:
    """The first ``n`` groups holding a turn, and whether a group lies beyond them (so they are whole)."""
    turns: list[list[Hit]] = []
    for i, g in enumerate(groups):
        if len(turns) == n:
            return turns, True
        t = g.turn(allowed)
        if t:
            turns.append(t)
        if len(turns) == n and i + 1 < len(groups):
            return turns, True
    return turns, n == 0 and len(groups) > 0


def _window(store: ChunkReader, hit: Hit, before: int, after: int) -> tuple[list[list[Hit]], list[Hit],
                                                                             list[list[Hit]]]:
    """(previous turns, the hit's own turn, next turns), widening the fetched window until it holds them."""
    allowed = _allowed(hit)
    span_b, span_a = 8 * (before + 1), 8 * (after + 1)
    while True:
        window = store.neighbours(hit.id, span_b, span_a) or [hit]
        groups = _groups(window)
        pos = next(i for i, g in enumerate(groups) if any(h.id == hit.id for h in g.hits))
        # nothing further on that side: the window reached the start (or end) of the source
        at_start = min(_ord(h) for h in window) > _ord(hit) - span_b
        at_end = max(_ord(h) for h in window) < _ord(hit) + span_a
        prev, prev_whole = _take(groups[:pos][::-1], before, allowed)
        nxt, next_whole = _take(groups[pos + 1:], after, allowed)
        done_b = prev_whole or at_start or span_b >= MAX_SPAN
        done_a = next_whole or at_end or span_a >= MAX_SPAN
        if done_b and done_a:
            return [t for t in prev[::-1]], list(groups[pos].hits), nxt
        span_b, span_a = (span_b if done_b else 2 * span_b), (span_a if done_a else 2 * span_a)


def context_hits(store: ChunkReader, chunk_id: int, before: int = 0, after: int = 0) -> list[Hit] | None:
    """The hit and up to ``before``/``after`` turns around it, in order; ``None`` if there is no such chunk.

    In a session the neighbours are conversation turns (exchanges, summaries), never the thinking or tool
    outputs between them, and never another piece of the hit's own exchange; for a tool output or a
    thinking block, the first turn before it is the exchange that made the tool call. In a document or
    a message export, the neighbours are the chunks of the hit's kind before and after it.
    """
    got = store.get([int(chunk_id)])
    if not got:
        return None
    hit = got[0]
    if not before and not after:
        return [hit]
    prev, own, nxt = _window(store, hit, before, after)
    if before and hit.kind not in TURN_KINDS:
        call = [h for h in own if h.kind in _allowed(hit) and h.id != hit.id]
        if call:  # the exchange that made the call is the turn just before its output
            prev = [*prev[1:], call] if len(prev) >= before else [*prev, call]
    return [*(h for t in prev for h in t), hit, *(h for t in nxt for h in t)]


def tool_call(store: ChunkReader, hit: Hit) -> str | None:
    """For a tool output, the call that produced it (``[Bash] pytest -q``), read from its exchange."""
    if hit.kind != "tool_result":
        return None
    _prev, own, _next = _window(store, hit, 0, 0)
    lines = (ln.removeprefix("Assistant: ").strip() for h in own if h.kind == "exchange" for ln in h.text.splitlines())
    calls = {ln for ln in lines if ln.startswith("[")}
    label = None
    for h in own:  # the last call label at or before the hit among the turn's tool outputs
        if h.kind == "tool_result":
            for line in h.text.splitlines():
                bare = line.removesuffix(" [error]")
                if bare in calls:
                    label = bare
        if h.id == hit.id:
            break
    return label


def title_of(text: str, limit: int = TITLE_CHARS) -> str:
    """One short line naming what a prompt or a summary is about."""
    for prefix in ("User: ", "Utilisateur : "):
        text = text.removeprefix(prefix)
    if "<summary>" in text:  # a compaction summary: its analysis preamble is not what the session was about
        text = text.split("<summary>", 1)[1]
    lines = (ln.strip().lstrip("#*> ").strip() for ln in text.splitlines())
    # not a bare <analysis> tag, nor a heading such as "1. Primary Request and Intent:"
    line = next((ln for ln in lines if ln and not _TAG.fullmatch(ln) and not ln.endswith(":")), "")
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def session_title(store: ChunkReader, hit: Hit) -> str | None:
    """A session's title: its first user prompt, else its (compaction) summary, shortened to one line.

    Read from the first chunks of the hit's file (a few rows by position, no scan): computed at read time
    rather than stored, so an index written before titles existed gets them too.
    """
    if hit.kind not in SESSION_KINDS:
        return None
    o = _ord(hit)
    first = store.neighbours(hit.id, o, 7 - o)  # positions 0..7 of the same source
    turns = sorted((h for h in first if h.kind in TURN_KINDS), key=_ord)
    for h in turns:
        if h.kind == "exchange" and h.text.startswith("User: "):
            return title_of(h.text) or None
    return title_of(turns[0].text) or None if turns else None


def add_titles(store: ChunkReader, hits: Sequence[Any]) -> None:
    """Set ``meta["title"]`` on session hits that have none (one small read per source file)."""
    memo: dict[str, str | None] = {}
    for h in hits:
        if h.kind not in SESSION_KINDS or h.meta.get("title"):
            continue
        if h.source not in memo:
            try:
                memo[h.source] = session_title(store, h)
            except Exception:  # a title is a courtesy: never fail a search for it
                memo[h.source] = None
        if memo[h.source]:
            h.meta["title"] = memo[h.source]
