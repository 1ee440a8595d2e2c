"""Make reader output storable: text that cannot be encoded as UTF-8 is repaired, never fatal.

A JSON ``\\ud83d`` escape (a lone UTF-16 surrogate: Node writes one when it cuts an emoji in two) decodes to a
Python string that UTF-8 cannot encode, and SQLite refuses it. File names that are not valid UTF-8 reach Python
as surrogate escapes too. Both are replaced by U+FFFD (the Unicode replacement character): the rest of the
text is kept.
"""

from __future__ import annotations

import re
from typing import Any

from pisteur.types import ParseResult

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
# Control characters and Unicode line/paragraph separators: a reason or warning quoting file content must
# stay one printable line (``str.splitlines`` also splits on \x1c-\x1e, \x85, \u2028...).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def fix_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (unchanged, and fast, when there is none)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return text


def one_line(text: str) -> str:
    """``text`` repaired (:func:`fix_text`) with control characters and line separators replaced by U+FFFD."""
    return _CONTROL.sub(REPLACEMENT, fix_text(text))


def fix_value(value: Any) -> Any:
    """:func:`fix_text` applied to the strings of a JSON-like value (dict keys and values, lists)."""
    if isinstance(value, str):
        return fix_text(value)
    if isinstance(value, dict):
        return {fix_value(k): fix_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(fix_value(v) for v in value)
    return value


def fix_result(result: ParseResult) -> ParseResult:
    """Repair every segment's text and meta and the warnings, in place; returns ``result``."""
    for seg in result.segments:
        seg.text = fix_text(seg.text)
        seg.meta = fix_value(seg.meta)
        if seg.anchors:
            seg.anchors = [(o, n, fix_text(u) if u else u) for o, n, u in seg.anchors]
    result.warnings = [one_line(w) for w in result.warnings]
    return result


def valid_name(path: str) -> bool:
    """True when a path can be stored and printed (no surrogate escapes from a non-UTF-8 file name)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
