"""Line-by-line reading of JSONL files: byte offsets, line numbers, bounded memory for giant lines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO


@dataclass
class Line:
    no: int  # 1-based line number
    start: int  # byte offset of the line
    end: int  # byte offset just past its newline


def iter_lines(
    fh: BinaryIO, start_offset: int, first_no: int, max_bytes: int
) -> Iterator[tuple[Line, bytes | None, bool]]:
    """Yield (line, raw bytes, complete) from ``start_offset``; ``complete`` is False for a last line
    without its newline (a file being written). A line longer than ``max_bytes`` is never held in memory:
    it is skipped in blocks and yielded with ``None`` as its bytes."""
    fh.seek(start_offset)
    pos, no = start_offset, first_no
    while raw := fh.readline(max_bytes + 1):
        end = pos + len(raw)
        if len(raw) <= max_bytes or raw.endswith(b"\n"):
            yield Line(no, pos, end), raw, raw.endswith(b"\n")
        else:
            complete = False
            while block := fh.readline(1 << 20):
                end += len(block)
                if block.endswith(b"\n"):
                    complete = True
                    break
            yield Line(no, pos, end), None, complete
        pos, no = end, no + 1


def count_lines_before(fh: BinaryIO, offset: int) -> int:
    fh.seek(0)
    left, count = offset, 0
    while left > 0:
        block = fh.read(min(left, 1 << 20))
        if not block:
            break
        count += block.count(b"\n")
        left -= len(block)
    return count
