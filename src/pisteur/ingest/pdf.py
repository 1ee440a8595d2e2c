"""PDF documents with pypdf: one segment per page (meta ``page``).

Encrypted files are opened with the empty password when that works (permissions-only encryption);
otherwise skipped. A PDF whose pages have no text layer is skipped (no OCR).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from pisteur.ingest.base import register
from pisteur.ingest.common import doc_meta, read_bytes
from pisteur.ingest.textcodec import clean_text
from pisteur.types import KIND_DOCUMENT, ParseResult, Segment, SkipFile


def _open(path: Path) -> tuple[Any, list[Any]]:
    """The parsed PDF and its pages (decrypted when the password is empty); SkipFile when unreadable."""
    from pypdf import PdfReader as _Pdf
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    data = read_bytes(path)
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise SkipFile("not a PDF (no %PDF header)")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf logs every recoverable defect
    try:
        pdf = _Pdf(io.BytesIO(data), strict=False)
        if pdf.is_encrypted:
            try:
                ok = pdf.decrypt("")
            except (DependencyError, NotImplementedError) as exc:
                raise SkipFile(f"encrypted PDF, cannot decrypt here ({exc})") from None
            if not ok:
                raise SkipFile("encrypted PDF (password required)")
        return pdf, list(pdf.pages)
    except SkipFile:
        raise
    except FileNotDecryptedError:
        raise SkipFile("encrypted PDF (password required)") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise SkipFile(f"corrupt PDF ({type(exc).__name__}: {str(exc)[:120]})") from None


@register
class PdfReader:
    name = "pdf"
    extensions = (".pdf",)

    def probe(self, path: Path) -> str | None:
        return None

    def read(self, path: Path, start_offset: int = 0) -> ParseResult:
        pdf, pages = _open(path)
        title = None
        try:
            title = pdf.metadata.title if pdf.metadata else None
        except Exception:  # noqa: BLE001 - metadata is optional and often broken
            title = None
        title = str(title).strip() if title else path.stem
        segments, warnings = [], []
        for number, page in enumerate(pages, start=1):
            try:
                text = clean_text(page.extract_text() or "").strip()
            except Exception as exc:  # noqa: BLE001 - one broken page must not lose the others
                warnings.append(f"page {number}: text extraction failed ({type(exc).__name__})")
                continue
            if text:
                segments.append(Segment(text, KIND_DOCUMENT, doc_meta(title, page=number)))
        if not segments:
            if not pages:
                raise SkipFile("PDF without pages")
            raise SkipFile("image-only PDF (no text layer; OCR not supported)")
        return ParseResult(segments, warnings)
