"""Ingest stage: find readable files and turn each into segments.

Public API (used by the indexer):

- :func:`discover` walks files/folders and says which reader handles each file (and which are skipped);
- :func:`read` parses one file with the named reader (``SkipFile`` is the only exception for bad input);
- :data:`READER_VERSION` is stored with each source: bump it whenever reader output changes so that the
  indexer re-reads everything.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pisteur.ingest import (  # noqa: F401 - importing the modules registers the readers
    claude,
    docx_doc,
    eml,
    html_doc,
    messages_csv,
    messages_json,
    pdf,
    text,
)
from pisteur.ingest.base import Reader, get_reader, reader_for, reader_names, register
from pisteur.ingest.limits import Limits, using
from pisteur.ingest.redact import RedactionPolicy, redact_segments
from pisteur.ingest.sanitize import fix_result, fix_text, one_line, valid_name
from pisteur.markers import is_pisteur_dir
from pisteur.types import ParseResult, SkipFile

READER_VERSION = 2

__all__ = [
    "Limits",
    "READER_VERSION",
    "Reader",
    "SkipFile",
    "discover",
    "get_reader",
    "read",
    "redacts",
    "redaction_policy",
    "reader_for",
    "reader_names",
    "register",
]


def _check(path: Path, name: str, st: os.stat_result) -> str | None:
    """Discovery-time reason to skip a file with a known reader, or None."""
    if st.st_size == 0:
        return "empty file"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return get_reader(name).probe(path)


def _walk(root: Path, seen_dirs: set[tuple[int, int]]) -> Iterator[Path]:
    """Files under ``root``, sorted, hidden entries skipped, each folder visited once (symlink loops)."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
            key = (st.st_dev, st.st_ino)
        except OSError:
            dirnames[:] = []
            continue
        if key in seen_dirs:  # a symlink loop or a folder reached twice
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        if is_pisteur_dir(Path(dirpath)):  # pisteur's own index or export: never read back as documents
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fname in sorted(filenames):
            if not fname.startswith("."):
                yield Path(dirpath) / fname


@dataclass
class _Discovery:
    """The files found and skipped so far by :func:`discover`, and what it has already seen."""

    found: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    seen_files: set[tuple[int, int]] = field(default_factory=set)
    seen_dirs: set[tuple[int, int]] = field(default_factory=set)

    def consider(self, path: Path, explicit: bool) -> None:
        skipped = self.skipped
        if not valid_name(str(path)):  # a Latin-1 name from an old export: cannot be stored nor printed
            if reader_for(path) is not None or explicit:
                shown = Path(fix_text(str(path)))
                skipped.append((shown, "file name is not valid UTF-8 (rename the file to index it)"))
            return
        name = reader_for(path)
        if name is None:
            if explicit:
                skipped.append((path, f"unsupported file type ({path.suffix or 'no extension'})"))
            return
        try:
            st = path.stat()
        except OSError as exc:
            skipped.append((path, f"cannot stat: {exc.strerror or exc}"))
            return
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device named like a document
            if explicit:
                skipped.append((path, "not a regular file"))
            return
        key = (st.st_dev, st.st_ino)
        if key in self.seen_files:  # the same file reached twice (symlink, hard link, overlapping roots)
            return
        self.seen_files.add(key)
        reason = _check(path, name, st)
        if reason is None:
            self.found.append((path, name))
        else:
            skipped.append((path, reason))


def discover(paths: Sequence[Path]) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """Walk files and folders. Returns (files with their reader name, skipped files with a reason).

    Folders are walked recursively, hidden entries below the given roots are skipped (``.git``...),
    symlinks are followed once (no loops, no file listed twice). Files with an unknown extension found
    in folders are ignored; a file named explicitly with an unknown extension is listed as skipped.
    """
    walk = _Discovery()
    found, skipped, seen_dirs, consider = walk.found, walk.skipped, walk.seen_dirs, walk.consider
    for root in paths:
        root = Path(root).expanduser()
        if not valid_name(str(root)):
            skipped.append((Path(fix_text(str(root))), "path is not valid UTF-8 (rename it to index it)"))
            continue
        if root.is_file():
            consider(root, explicit=True)
            continue
        if not root.is_dir():
            skipped.append((root, "no such file or directory"))
            continue
        for path in _walk(root, seen_dirs):
            consider(path, explicit=False)
    found.sort(key=lambda item: str(item[0]))
    skipped.sort(key=lambda item: str(item[0]))
    return found, skipped


def redacts(reader: str, redact: bool | None = None) -> bool:
    """Whether :func:`read` redacts secrets for ``reader``: ``redact`` when given, else the reader's default
    (on for Claude Code sessions, off for case files, where a seized password may be evidence)."""
    if redact is not None:
        return redact
    return bool(getattr(get_reader(reader), "redact_by_default", False))


def redaction_policy(redact: bool | None = None) -> RedactionPolicy:
    """The redaction policy of a run, as recorded in the index manifest (``"redaction"``)."""
    mode = "reader-default" if redact is None else ("on" if redact else "off")
    return RedactionPolicy(mode, tuple(r for r in reader_names() if redacts(r, redact)))


def read(
    path: Path, reader: str, start_offset: int = 0, redact: bool | None = None, limits: Limits | None = None
) -> ParseResult:
    """Parse ``path`` with the named reader. Bad input raises ``SkipFile`` (one-line reason), never
    anything else: an unexpected error inside a reader is reported as a skip naming the error.

    ``redact``: replace secrets (API keys, tokens, passwords, private keys) by ``[REDACTED:<kind>]``
    before the text leaves the reader; ``None`` = the reader's default (see :func:`redacts`).
    ``limits``: resource limits for this file (default :class:`Limits()`, documented in docs/ingest.md)."""
    impl = get_reader(reader)
    try:
        with using(limits, reader):
            result = fix_result(impl.read(Path(path), start_offset))
        if redacts(reader, redact):
            redact_segments(result.segments)
        return result
    except SkipFile as exc:
        raise SkipFile(one_line(str(exc))) from None
    except RecursionError:
        raise SkipFile(f"{reader} reader: structure too deeply nested") from None
    except Exception as exc:  # noqa: BLE001 - the contract is "never crash on bad input"
        raise SkipFile(f"{reader} reader failed: {type(exc).__name__}: {one_line(str(exc))[:160]}") from exc
