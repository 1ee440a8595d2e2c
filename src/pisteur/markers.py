"""Folders pisteur writes itself (an index, an export) and must never read back as documents.

An export holds ``chunks.jsonl`` and ``export.json``; an index holds ``manifest.json``. Indexing a case
folder that contains one would index pisteur's own output as evidence. Both carry a small marker file, and
folders written before the marker existed are recognised by their layout.
"""

from __future__ import annotations

from pathlib import Path

MARKER = ".pisteur"  # written into every export directory (hidden: never listed as a document)


def is_pisteur_dir(path: Path) -> bool:
    """True for a directory written by pisteur (an index or an export): discovery must skip it."""
    p = Path(path)
    if (p / MARKER).is_file():
        return True
    if (p / "index.sqlite").is_file() and (p / "manifest.json").is_file():
        return True
    return (p / "export.json").is_file() and (p / "chunks.jsonl").is_file()


def is_export_dir(path: Path) -> bool:
    p = Path(path)
    return (p / "export.json").is_file() and (p / "chunks.jsonl").is_file()
