"""Helpers shared by the document readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pisteur.ingest.limits import MB, max_file_bytes
from pisteur.types import KIND_DOCUMENT, Segment, SkipFile


def check_size(size: int) -> None:
    """SkipFile when ``size`` exceeds the current reader's file size limit (pisteur.ingest.limits)."""
    limit = max_file_bytes()
    if size > limit:
        raise SkipFile(f"file too large ({size // MB} MiB > {limit // MB} MiB limit)")


def read_bytes(path: Path) -> bytes:
    """The whole file, within the reader's size limit (larger files are skipped, not loaded)."""
    try:
        check_size(path.stat().st_size)
        data = path.read_bytes()
    except OSError as exc:
        raise SkipFile(f"cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        raise SkipFile("empty file")
    return data


def doc_meta(title: str | None, page: int | None = None, ts: str | None = None, **extra: Any) -> dict[str, Any]:
    """Meta of a document segment: ``title``, ``page``, ``ts_first``/``ts_last`` (always present)."""
    meta: dict[str, Any] = {"title": title, "page": page, "ts_first": ts, "ts_last": ts}
    meta.update(extra)
    return meta


def line_segments(
    lines: list[str], spans: list[tuple[int, int]], meta_for: Any = None, base_meta: dict[str, Any] | None = None
) -> list[Segment]:
    """Segments over ``lines[start:end]`` (0-based spans), trimmed of blank edge lines, with 1-based
    line numbers. ``meta_for(start, end)`` may return extra meta for a span."""
    out = []
    for start, end in spans:
        while start < end and not lines[start].strip():
            start += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        if start >= end:
            continue
        meta = dict(base_meta or {})
        if meta_for is not None:
            meta.update(meta_for(start, end))
        out.append(Segment("\n".join(lines[start:end]), KIND_DOCUMENT, meta, start + 1, end,
                           anchors=line_anchors(lines, start, end)))
    return out


def line_anchors(lines: list[str], start: int, end: int) -> list[tuple[int, int, str | None]]:
    """(char offset in the joined text, 1-based line) of each line of ``lines[start:end]``: lets the chunker
    cite the lines a chunk really covers (a passage at line 12 of a report cites line 12, not 1-17)."""
    out: list[tuple[int, int, str | None]] = []
    offset = 0
    for i in range(start, end):
        out.append((offset, i + 1, None))
        offset += len(lines[i]) + 1
    return out


def paragraph_spans(lines: list[str], max_chars: int = 10_000) -> list[tuple[int, int]]:
    """Cut ``lines`` into spans of at most ~``max_chars``, at blank lines (a long paragraph stays whole)."""
    spans: list[tuple[int, int]] = []
    start, size, last_blank = 0, 0, -1
    for i, line in enumerate(lines):
        if not line.strip():
            last_blank = i
        size += len(line) + 1
        if size > max_chars and last_blank > start:
            spans.append((start, last_blank))
            start, size = last_blank + 1, sum(len(x) + 1 for x in lines[last_blank + 1 : i + 1])
            last_blank = -1
    spans.append((start, len(lines)))
    return spans
