"""CSV exports of messages (SMS, chat): one segment per row, delimiter sniffed, columns by header name."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pisteur.ingest.base import register
from pisteur.ingest.common import read_bytes
from pisteur.ingest.messages_common import map_columns, message_segment
from pisteur.ingest.textcodec import decode_bytes
from pisteur.types import ParseResult, SkipFile

csv.field_size_limit(16 * 1024 * 1024)
HEADER_SCAN_ROWS = 20


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        head = "\n".join(sample.split("\n")[:20])
        best = max(",;\t|", key=head.count)
        return type("Sniffed", (csv.excel,), {"delimiter": best})


def truncation_warning(text: str, last_row: list[str], columns: int) -> list[str]:
    """A warning when the export looks cut short: no final newline and a last row missing columns. (A file
    without a final newline but a complete last row is common: spreadsheet exports write none.)"""
    if text.endswith(("\n", "\r")) or len(last_row) >= columns:
        return []
    return [f"file looks truncated: the last row has {len(last_row)} of {columns} columns and no final newline"]


def _header(reader: Iterator[list[str]]) -> tuple[list[str], dict[str, Any]]:
    """The header row (with its columns mapped to roles), looked for in the first rows: extraction reports
    often put a title block above it."""
    first: list[str] | None = None
    columns: dict[str, Any] = {}
    headers: list[str] = []
    try:
        for _ in range(HEADER_SCAN_ROWS):
            row_values = [h.strip() for h in next(reader)]
            if not any(row_values):
                continue
            first = first or row_values
            columns = map_columns([h for h in row_values if h])
            if "text" in columns:
                headers = row_values
                break
    except StopIteration:
        pass
    except csv.Error as exc:
        raise SkipFile(f"unreadable CSV ({exc})") from None
    if first is None:
        raise SkipFile("empty CSV")
    if not headers:
        shown = ", ".join(h for h in first if h)[:200] or "(none)"
        raise SkipFile(f"not a message export: no text/message column (columns: {shown})")
    return headers, columns


@register
class CsvReader:
    name = "csv"
    extensions = (".csv", ".tsv")

    def probe(self, path: Path) -> str | None:
        return None

    def read(self, path: Path, start_offset: int = 0) -> ParseResult:
        text, _ = decode_bytes(read_bytes(path))
        reader = csv.reader(io.StringIO(text, newline=""), _dialect(text[:32768]))
        headers, columns = _header(reader)
        index = {h: i for i, h in enumerate(headers)}
        segments, warnings, skipped = [], [], 0
        prev_line, row = reader.line_num, 0
        values_last: list[str] = []
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                skipped += 1
                warnings.append(f"line {reader.line_num}: {exc}")
                prev_line = reader.line_num
                continue
            start, prev_line = prev_line + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            values_last = values
            row += 1
            record = {h: values[i] for h, i in index.items() if i < len(values)}
            seg = message_segment(record, columns, row, start)
            if seg is not None:
                seg.line_end = reader.line_num
                segments.append(seg)
        if not segments:
            raise SkipFile("message export without any message text")
        warnings += truncation_warning(text, values_last, len(headers))
        return ParseResult(segments, warnings, skipped)
