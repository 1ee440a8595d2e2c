"""HTML pages (``.html``, ``.htm``): visible text with the standard library parser, title kept.

``script``/``style``/``noscript``/``template``/``svg`` content is dropped; block elements become line
breaks. Used by the e-mail reader for HTML-only bodies too.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from pisteur.ingest.base import register
from pisteur.ingest.common import doc_meta, line_segments, paragraph_spans, read_bytes
from pisteur.ingest.textcodec import clean_text, decode_bytes
from pisteur.types import ParseResult, SkipFile

_DROP = {"script", "style", "noscript", "template", "svg", "head"}
_BLOCK = {
    "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer", "h1", "h2",
    "h3", "h4", "h5", "h6", "pre", "blockquote", "hr", "dt", "dd", "nav", "aside", "main", "form", "figure",
    "figcaption", "address", "title",
}  # fmt: skip
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._drop = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _DROP:
            self._drop += 1
        if tag in _BLOCK:
            self.parts.append("\n")
        if tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _DROP and self._drop:
            self._drop -= 1
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._drop:
            self.parts.append(data)


def html_to_text(markup: str) -> tuple[str, str]:
    """(visible text, title) of an HTML string."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = [_SPACES.sub(" ", line).strip(" |").strip() for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    title = _SPACES.sub(" ", "".join(parser.title_parts)).strip()
    return text, title


@register
class HtmlReader:
    name = "html"
    extensions = (".html", ".htm", ".xhtml")

    def probe(self, path: Path) -> str | None:
        return None

    def read(self, path: Path, start_offset: int = 0) -> ParseResult:
        data = read_bytes(path)
        m = _CHARSET.search(data[:4096])
        markup, encoding = decode_bytes(data, m.group(1).decode("ascii", "ignore") if m else None)
        text, title = html_to_text(clean_text(markup))
        if not text:
            raise SkipFile("HTML page without visible text")
        lines = text.split("\n")
        meta = doc_meta(title or path.stem, encoding=encoding)
        return ParseResult(line_segments(lines, paragraph_spans(lines, 20_000), base_meta=meta))
