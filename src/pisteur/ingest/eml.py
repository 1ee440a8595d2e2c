"""E-mails (``.eml``, RFC 822): subject, sender, recipients, date and the text body (attachments ignored)."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from pisteur.ingest import limits
from pisteur.ingest.base import register
from pisteur.ingest.common import doc_meta, read_bytes
from pisteur.ingest.html_doc import html_to_text
from pisteur.ingest.textcodec import clean_text
from pisteur.types import KIND_DOCUMENT, ParseResult, Segment, SkipFile


def _date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        dt: datetime = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return dt.isoformat() if dt else None


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("latin-1") if isinstance(payload, bytes) else str(payload)
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content, _ = html_to_text(content)
    return clean_text(content).strip()


_TRUNCATION = ("CloseBoundaryNotFoundDefect", "StartBoundaryNotFoundDefect", "MultipartInvariantViolationDefect",
               "InvalidBase64PaddingDefect", "InvalidBase64CharactersDefect", "InvalidBase64LengthDefect")
_BOUNDARY_LINE = re.compile(rb"^--", re.M)


def cap_parts(data: bytes, max_parts: int) -> tuple[bytes, list[str]]:
    """Keep the first ``max_parts`` MIME parts of a message: parsing 50,000 parts takes minutes. Counted on
    the raw bytes (lines starting with ``--``, an upper bound of the boundary lines) before any parsing."""
    for i, m in enumerate(_BOUNDARY_LINE.finditer(data)):
        if i > max_parts:
            return data[: m.start()], [f"more than {max_parts:,} MIME parts: only the first {max_parts:,} read"]
    return data, []


def truncation_warnings(msg: EmailMessage, capped: bool) -> list[str]:
    """A warning when the message looks cut short (an unclosed MIME boundary, broken base64 at the end)."""
    if capped:
        return []
    for part in msg.walk():
        names = {type(d).__name__ for d in part.defects}
        if names & set(_TRUNCATION):
            return [f"message looks truncated ({', '.join(sorted(names & set(_TRUNCATION)))})"]
    return []


@register
class EmlReader:
    name = "eml"
    extensions = (".eml",)

    def probe(self, path: Path) -> str | None:
        return None

    def read(self, path: Path, start_offset: int = 0) -> ParseResult:
        data, warnings = cap_parts(read_bytes(path), limits.current().mime_parts)
        capped = bool(warnings)
        msg = email.message_from_bytes(data, policy=email.policy.default)
        if not isinstance(msg, EmailMessage) or not msg.keys():
            raise SkipFile("not an e-mail message (no headers)")
        warnings += [f"header defect: {d}" for d in msg.defects[:5] if type(d).__name__ not in _TRUNCATION]
        warnings += truncation_warnings(msg, capped)

        def header(name: str) -> str:
            try:
                return str(msg.get(name, "") or "").strip()
            except (ValueError, TypeError, IndexError):
                warnings.append(f"unreadable {name} header")
                return ""

        subject, sender, to, date = header("Subject"), header("From"), header("To"), header("Date")
        body = _body(msg)
        if not body and not subject:
            raise SkipFile("e-mail without subject nor text body")
        head = [f"{label} : {value}" for label, value in
                (("Objet", subject), ("De", sender), ("À", to), ("Date", date)) if value]  # fmt: skip
        text = "\n".join(head) + ("\n\n" + body if body else "")
        meta = doc_meta(subject or path.stem, ts=_date(date), sender=sender or None, recipient=to or None)
        return ParseResult([Segment(text, KIND_DOCUMENT, meta)], warnings)
