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


@dataclass(frozen=True)
class ChunkerConfig:
    # Chosen on piaf-dev (bench/chunking.py, docs/BENCHMARKS.md): 128/16 gave the best nDCG@10 for both packaged
    # models (e5 0.778 vs 0.760 at 256/32 and 0.765 at 512; USE 0.607 vs 0.593 and 0.597).
    size: int = 128  # tokens per chunk (model tokens, specials included)
    overlap: int = 16  # tokens shared by consecutive chunks
    version: int = 1

    def to_manifest(self) -> dict[str, int]:
        return asdict(self)


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
            parts = _SENT.split(line)
            out.extend(p + (" " if i < len(parts) - 1 else "") for i, p in enumerate(parts))
    return out


def _split_long(unit: str, size: int, count: TokenCounter) -> list[str]:
    """Split one over-long unit on whitespace into pieces of at most ``size`` tokens."""
    words = re.split(r"(\s+)", unit)
    pieces, cur = [], ""
    for w in words:
        cand = cur + w
        if cur and count(cand) > size:
            pieces.append(cur)
            cur = w.lstrip()
        else:
            cand_count = count(cand) if not cur else None
            if cand_count is not None and cand_count > size:  # a single giant "word" (base64, minified)
                step = max(16, len(cand) * size // (cand_count * 2))
                pieces.extend(cand[i : i + step] for i in range(0, len(cand), step))
                cur = ""
            else:
                cur = cand
    if cur.strip():
        pieces.append(cur)
    return pieces


def split_text(text: str, size: int, overlap: int, count: TokenCounter) -> list[str]:
    """Split ``text`` into pieces of at most ``size`` tokens with about ``overlap`` tokens of overlap."""
    if not text.strip():
        return []
    if count(text) <= size:
        return [text.strip()]
    units: list[tuple[str, int]] = []
    for u in _units(text):
        n = count(u)
        if n > size:
            units.extend((p, count(p)) for p in _split_long(u, size, count))
        elif u:
            units.append((u, n))
    chunks: list[str] = []
    cur: list[tuple[str, int]] = []
    cur_tokens = 0
    fresh = 0  # units in ``cur`` not yet emitted (the overlap carried over is not fresh)
    for u, n in units:
        # per-unit counts include the model's 2 special tokens; subtract them when summing
        n_body = max(1, n - 2)
        if cur and fresh and cur_tokens + n_body + 2 > size:
            chunks.append("".join(x for x, _ in cur).strip())
            keep: list[tuple[str, int]] = []
            kept = 0
            for x, m in reversed(cur):
                if kept + m + n_body + 2 > size or kept + m > overlap:
                    break
                keep.insert(0, (x, m))
                kept += m
            cur, cur_tokens, fresh = keep, kept, 0
        cur.append((u, n_body))
        cur_tokens += n_body
        fresh += 1
    if fresh:
        chunks.append("".join(x for x, _ in cur).strip())
    return [c for c in chunks if c]


def chunk_segments(segments: Iterable[Segment], config: ChunkerConfig, count: TokenCounter) -> list[Chunk]:
    """Chunks of every segment; a chunk cut from a long exchange reports only the lines and message uuids
    it covers (from the reader's ``Segment.anchors``), not the whole exchange's."""
    from pisteur.ingest.anchors import narrow_pieces

    out: list[Chunk] = []
    for seg in segments:
        pieces = split_text(seg.text, config.size, config.overlap, count)
        parts = narrow_pieces(seg, pieces) if len(pieces) > 1 and seg.anchors else [None] * len(pieces)
        for piece, part in zip(pieces, parts, strict=True):
            meta = dict(seg.meta)
            if part is not None:
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
                    tokens=count(piece) if len(pieces) > 1 else count(seg.text),
                )
            )
    return out
