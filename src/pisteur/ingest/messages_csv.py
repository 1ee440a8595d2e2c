"""CSV exports of messages (SMS, chat): one segment per row, delimiter sniffed, columns by header name."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pisteur.ingest.base import register
from pisteur.ingest.common import read_bytes
from pisteur.ingest.messages_common import map_columns, message_segment
from pisteur.ingest.textcodec import decode_bytes
from pisteur.types import ParseResult, SkipFile

csv.field_size_limit(16 * 1024 * 1024)


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        first = sample.split("\n", 1)[0]
        best = max(",;\t|", key=first.count)
        return type("Sniffed", (csv.excel,), {"delimiter": best})


@register
class CsvReader:
    name = "csv"
    extensions = (".csv", ".tsv")

    def probe(self, path: Path) -> str | None:
        return None

    def read(self, path: Path, start_offset: int = 0) -> ParseResult:
        text, _ = decode_bytes(read_bytes(path))
        reader = csv.reader(io.StringIO(text, newline=""), _dialect(text[:32768]))
        try:
            header = next(reader)
        except (StopIteration, csv.Error):
            raise SkipFile("empty CSV") from None
        headers = [h.strip() for h in header]
        columns = map_columns([h for h in headers if h])
        if "text" not in columns:
            shown = ", ".join(h for h in headers if h)[:200] or "(none)"
            raise SkipFile(f"not a message export: no text/message column (columns: {shown})")
        index = {h: i for i, h in enumerate(headers)}
        segments, warnings, skipped = [], [], 0
        prev_line, row = reader.line_num, 0
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
            row += 1
            record = {h: values[i] for h, i in index.items() if i < len(values)}
            seg = message_segment(record, columns, row, start)
            if seg is not None:
                seg.line_end = reader.line_num
                segments.append(seg)
        if not segments:
            raise SkipFile("message export without any message text")
        return ParseResult(segments, warnings, skipped)
