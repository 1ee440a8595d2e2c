"""Token-aware chunking with the embedding model's own tokenizer.

Text is cut into *units* that are never split unless they alone exceed the budget: lines inside fenced
code blocks (so code is not cut mid-line), and sentences/lines of prose. Units are packed greedily up to
``size`` tokens; consecutive chunks share about ``overlap`` tokens of trailing units. Token counts come
from the model (``Embedder.count_tokens``), so a chunk never gets truncated silently by the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from pisteur.types import Chunk, Segment

TokenCounter = Callable[[str], int]

_FENCE = re.compile(r"^\s*(```|~~~)")
_SENT = re.compile(r"(?<=[.!?…:;])\s+(?=[A-ZÀ-ÖØ-Þ0-9«\"'(\[-])")
# Strings longer than these are never handed whole to the tokenizer (see _split_long, _slices).
_SAMPLE_CHARS = 2_000
_LONG_UNIT_CHARS = 20_000


@dataclass(frozen=True)
class ChunkerConfig:
    # Chosen on piaf-dev (bench/chunking.py, docs/BENCHMARKS.md): 128/16 gave the best nDCG@10 for both packaged
    # models (e5 0.778 vs 0.760 at 256/32 and 0.765 at 512; USE 0.607 vs 0.593 and 0.597).
    size: int = 128  # tokens per chunk (model tokens, specials included)
    overlap: int = 16  # tokens shared by consecutive chunks
    version: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size <= 0:
            raise ValueError(f"chunk size must be a positive number of tokens (got {self.size!r})")
        if isinstance(self.overlap, bool) or not isinstance(self.overlap, int) or self.overlap < 0:
            raise ValueError(f"chunk overlap must be zero or a positive number of tokens (got {self.overlap!r})")
        if self.overlap >= self.size:
            raise ValueError(f"chunk overlap ({self.overlap}) must be smaller than the chunk size ({self.size})")

    def to_manifest(self) -> dict[str, int]:
        return asdict(self)


def _sentences(line: str) -> list[str]:
    """A long prose line cut after sentence ends; each piece keeps the whitespace that follows it, so the
    pieces are exact substrings of the line (the chunker locates chunks in the text by search)."""
    out, start = [], 0
    for m in _SENT.finditer(line):
        out.append(line[start : m.end()])
        start = m.end()
    out.append(line[start:])
    return [p for p in out if p]


def _units(text: str) -> list[str]:
    """Lines of code blocks stay whole; prose lines are split into sentences."""
    out: list[str] = []
    in_code = False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_code = not in_code
            out.append(line)
            continue
        if in_code or len(line) < 200:
            out.append(line)
        else:
            out.extend(_sentences(line))
    return out


def _specials(count: TokenCounter) -> int:
    """Tokens the model adds to any text (e.g. 2 for ``<s> ... </s>``)."""
    return count("")


def _cut(unit: str, pos: int, limit: int) -> int:
    """End of a piece starting at ``pos``: after the last whitespace before ``limit`` (the whitespace stays
    with the piece), or ``limit`` itself inside a giant word (base64, minified code, no spaces at all)."""
    if limit >= len(unit):
        return len(unit)
    ws = max(unit.rfind(" ", pos + 1, limit), unit.rfind("\n", pos + 1, limit), unit.rfind("\t", pos + 1, limit))
    return ws + 1 if ws > pos else max(pos + 1, limit)


def _split_long(unit: str, size: int, count: TokenCounter) -> list[tuple[str, int]]:
    """Split one over-long unit into (piece, token count) of at most ``size`` tokens, cut at whitespace.

    Linear time with few tokenizer calls: a piece is cut by characters from a chars-per-token ratio (measured
    on a bounded sample, then on each piece), counted once, and shrunk in the rare case it is over budget.
    Re-counting the growing piece for every word (the previous approach) made a 100 KB line take minutes, and
    some tokenizers are slow on long unbroken strings, so nothing longer than a piece is ever counted here.
    """
    specials = _specials(count)
    budget = max(1, size - specials)
    sample = unit[:_SAMPLE_CHARS]
    ratio = len(sample) / max(1, count(sample) - specials)  # chars per token
    pieces: list[tuple[str, int]] = []
    pos = 0
    while pos < len(unit):
        end = _cut(unit, pos, pos + max(1, int(budget * ratio * 0.95)))
        n = count(unit[pos:end].strip()) - specials
        while n > budget and end - pos > 1:
            end = _cut(unit, pos, pos + max(1, int((end - pos) * budget / n * 0.9)))
            n = count(unit[pos:end].strip()) - specials
        piece = unit[pos:end]
        if piece.strip():
            pieces.append((piece, n + specials))  # the count of the stripped piece: exact for a lone chunk
        if n > 0:
            ratio = (ratio + len(piece) / n) / 2
        pos = end
    return pieces


def _fits(text: str, size: int, count: TokenCounter) -> tuple[bool, int]:
    """(``text`` fits in ``size`` tokens, its count); a text far longer than any budget is not counted."""
    if len(text) > max(_LONG_UNIT_CHARS, 16 * size):
        return False, size + 1
    n = count(text)
    return n <= size, n


def split_text(text: str, size: int, overlap: int, count: TokenCounter) -> list[str]:
    """Split ``text`` into pieces of at most ``size`` tokens with about ``overlap`` tokens of overlap."""
    return [piece for piece, _ in split_counted(text, size, overlap, count)]


def split_counted(text: str, size: int, overlap: int, count: TokenCounter) -> list[tuple[str, int | None]]:
    """:func:`split_text` with each piece's token count when it is already known (else ``None``), so that a
    caller needing the counts does not tokenize the pieces a second time."""
    if not text.strip():
        return []
    fits, n = _fits(text, size, count)
    if fits:
        return [(text.strip(), n)]
    units: list[tuple[str, int, bool]] = []  # (text, tokens, tokens counted on the stripped text)
    for u in _units(text):
        fits, n = _fits(u, size, count)
        if not fits:
            units.extend((p, m, True) for p, m in _split_long(u, size, count))
        elif u:
            units.append((u, n, False))
    return _pack(units, size, overlap)


def _pack(units: list[tuple[str, int, bool]], size: int, overlap: int) -> list[tuple[str, int | None]]:
    """Greedy packing of units into chunks of at most ``size`` tokens, with overlap."""
    chunks: list[tuple[str, int | None]] = []
    cur: list[tuple[str, int, int | None]] = []  # (text, tokens without specials, exact count of a lone unit)
    cur_tokens = 0
    fresh = 0  # units in ``cur`` not yet emitted (the overlap carried over is not fresh)

    def emit() -> None:
        piece = "".join(x for x, _, _ in cur).strip()
        if piece:
            chunks.append((piece, cur[0][2] if len(cur) == 1 else None))

    for u, n, exact in units:
        # per-unit counts include the model's 2 special tokens; subtract them when summing
        n_body = max(1, n - 2)
        if cur and fresh and cur_tokens + n_body + 2 > size:
            emit()
            keep: list[tuple[str, int, int | None]] = []
            kept = 0
            for x, m, e in reversed(cur):
                if kept + m + n_body + 2 > size or kept + m > overlap:
                    break
                keep.insert(0, (x, m, e))
                kept += m
            cur, cur_tokens, fresh = keep, kept, 0
        cur.append((u, n_body, n if exact else None))
        cur_tokens += n_body
        fresh += 1
    if fresh:
        emit()
    return chunks


def chunk_segments(segments: Iterable[Segment], config: ChunkerConfig, count: TokenCounter) -> list[Chunk]:
    """Chunks of every segment; a chunk cut from a long exchange reports only the lines and message uuids
    it covers (from the reader's ``Segment.anchors``), not the whole exchange's."""
    from pisteur.ingest.anchors import narrow_pieces

    out: list[Chunk] = []
    for seg in segments:
        counted = split_counted(seg.text, config.size, config.overlap, count)
        pieces = [p for p, _ in counted]
        parts = narrow_pieces(seg, pieces) if len(pieces) > 1 and seg.anchors else [None] * len(pieces)
        for (piece, known), part in zip(counted, parts, strict=True):
            meta = dict(seg.meta)
            if part is not None and "uuids" in seg.meta:  # documents have lines but no message uuids
                meta["uuids"] = part["uuids"]
            out.append(
                Chunk(
                    text=piece,
                    kind=seg.kind,
                    meta=meta,
                    ord=len(out),
                    line_start=part["line_start"] if part else seg.line_start,
                    line_end=part["line_end"] if part else seg.line_end,
                    byte_start=seg.byte_start,
                    byte_end=seg.byte_end,
                    tokens=known if known is not None else count(piece),
                )
            )
    return out
