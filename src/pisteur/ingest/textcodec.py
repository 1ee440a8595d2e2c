"""Bytes -> text for documents of unknown encoding (French archives: cp1252/latin-1 are common).

Order: BOM (utf-8/utf-16/utf-32) -> strict UTF-8 -> cp1252 when it decodes cleanly into French-looking
text -> charset-normalizer's best guess. charset-normalizer alone is unreliable on short French texts
(it reads "Procès" in cp1252 as cp1250 "Procčs"), hence the French-first cp1252 check before it.
"""

from __future__ import annotations

import codecs
import re

from pisteur.types import SkipFile

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Bytes undefined in cp1252: their presence means it is not cp1252.
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
# Non-ASCII characters expected in French (and Western European) text.
_WESTERN = set("àâäáãåæçèéêëìíîïñòóôöõøùúûüýÿœšžÀÂÄÁÃÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÖÕØÙÚÛÜÝŸŒŠŽ«»€°’‘“”–—…•·ßªº²³¹§µ¿¡ ")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control bytes in the head (and no UTF-16/32 BOM) -> not a text file."""
    head = data[:8192]
    if any(head.startswith(bom) for bom, enc in _BOMS if enc != "utf-8-sig"):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32 and b != 27)
    return bool(head) and controls / len(head) > 0.05


def _western_ratio(text: str) -> float:
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii:
        return 1.0
    return sum(c in _WESTERN for c in non_ascii) / len(non_ascii)


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode ``data``; return (text, encoding name). Raise SkipFile on binary content.

    ``declared`` is an encoding named by the container (HTML meta charset, MIME header); it is tried
    right after BOMs and UTF-8.
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data.decode(enc, errors="replace"), enc
    if looks_binary(data):
        raise SkipFile("binary content (not a text file)")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return data.decode(declared), declared.lower()
        except (UnicodeDecodeError, LookupError):
            pass
    if not _CP1252_UNDEFINED.search(data):
        text = data.decode("cp1252")
        if _western_ratio(text) >= 0.9:
            return text, "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None:
        return str(best), best.encoding
    return data.decode("latin-1"), "latin-1"


def clean_text(text: str) -> str:
    """Normalise newlines and drop stray control characters (keeps tabs and newlines)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)
