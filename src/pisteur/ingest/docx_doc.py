"""Word documents (``.docx``) with python-docx: paragraphs and tables in body order, sections at headings."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from pisteur.ingest import limits
from pisteur.ingest.base import register
from pisteur.ingest.common import doc_meta, read_bytes
from pisteur.ingest.textcodec import clean_text
from pisteur.types import KIND_DOCUMENT, ParseResult, Segment, SkipFile

SECTION_CHARS = 20_000


def _blocks(document: Any) -> list[tuple[str, bool]]:
    """(text, is_heading) for each paragraph and table row of the body, in order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    out: list[tuple[str, bool]] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(child, document)
            style = (para.style.name if para.style is not None else "") or ""
            heading = style.lower().startswith(("heading", "titre", "title"))
            out.append((para.text, heading))
        elif tag == "tbl":
            for row in Table(child, document).rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = cell.text.strip()
                    if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                        cells.append(text)
                out.append((" | ".join(cells), False))
    return out


def check_container(data: bytes) -> None:
    """SkipFile for a ZIP bomb: the uncompressed sizes declared by the container are checked before anything
    is decompressed (zipfile never returns more than an entry's declared size)."""
    import io

    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise SkipFile(f"corrupt or truncated .docx ({type(exc).__name__})") from None
    lim = limits.current()
    if len(entries) > lim.zip_entries:
        raise SkipFile(f"suspicious .docx: {len(entries):,} entries in the container (limit {lim.zip_entries:,})")
    total = sum(e.file_size for e in entries)
    if total > lim.unzipped_mb * limits.MB:
        raise SkipFile(f"suspicious .docx: expands to {total // limits.MB:,} MiB (limit {lim.unzipped_mb:,} MiB)")
    if total > 10 * limits.MB and total > lim.zip_ratio * len(data):
        raise SkipFile(f"suspicious .docx: expands {total // max(1, len(data)):,} times (ZIP bomb?)")


@register
class DocxReader:
    name = "docx"
    extensions = (".docx",)

    def probe(self, path: Path) -> str | None:
        return None

    def read(self, path: Path, start_offset: int = 0) -> ParseResult:
        import io

        from docx import Document
        from docx.opc.exceptions import PackageNotFoundError

        data = read_bytes(path)
        if not data.startswith(b"PK"):
            raise SkipFile("not a .docx (not a ZIP container)")
        check_container(data)
        try:
            document = Document(io.BytesIO(data))
            blocks = _blocks(document)
            title = (document.core_properties.title or "").strip()
        except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, OSError, EOFError) as exc:
            raise SkipFile(f"corrupt or truncated .docx ({type(exc).__name__})") from None
        except Exception as exc:  # noqa: BLE001 - lxml/zip errors of damaged files come in many types
            raise SkipFile(f"corrupt or truncated .docx ({type(exc).__name__})") from None
        if not title:
            title = next((clean_text(t).strip() for t, h in blocks if h and t.strip()), path.stem)
        segments: list[Segment] = []
        current: list[str] = []
        section: str | None = None

        def flush() -> None:
            text = clean_text("\n".join(current)).strip()
            if text:
                segments.append(Segment(text, KIND_DOCUMENT, doc_meta(title, section=section)))
            current.clear()

        for text, heading in blocks:
            if heading or sum(len(c) for c in current) > SECTION_CHARS:
                flush()
                if heading:
                    section = text.strip() or section
            current.append(text)
        flush()
        if not segments:
            raise SkipFile("empty .docx (no text)")
        return ParseResult(segments)
