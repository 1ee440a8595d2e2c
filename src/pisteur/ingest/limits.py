"""Resource limits of the readers: a hostile or broken file costs bounded time and memory.

Defaults fit real sources with a wide margin (a months-long Claude Code session is tens of MB; a PV is a few
KB; a case-file PDF rarely reaches 100 MB). :func:`pisteur.ingest.read` takes a :class:`Limits` to change
them for one call; readers ask :func:`current` for the limits in force and :func:`max_file_bytes` for theirs.
What each limit does when it is reached is documented in docs/ingest.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType

MB = 1024 * 1024

_FILE_MB_BY_READER: Mapping[str, int] = MappingProxyType(
    {"claude": 4096, "text": 64, "html": 64, "eml": 64, "csv": 256, "json": 256, "pdf": 512, "docx": 256}
)


@dataclass(frozen=True)
class Limits:
    file_mb: int = 256  # files larger than this are skipped (readers without their own entry below)
    file_mb_by_reader: Mapping[str, int] = field(default_factory=lambda: _FILE_MB_BY_READER)
    record_mb: int = 64  # one JSONL line: a longer one is skipped (read in bounded blocks, never whole)
    message_chars: int = 200_000  # text of one session message: the rest is cut, with a warning
    unzipped_mb: int = 512  # total uncompressed size of a .docx (ZIP) container
    zip_ratio: int = 100  # uncompressed / compressed size beyond which a large container is a ZIP bomb
    zip_entries: int = 10_000  # entries in a .docx container
    mime_parts: int = 1_000  # MIME parts of an e-mail read; the rest is dropped, with a warning

    def __post_init__(self) -> None:
        for name in ("file_mb", "record_mb", "message_chars", "unzipped_mb", "zip_ratio", "zip_entries",
                     "mime_parts"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"limit {name} must be a positive integer (got {value!r})")


_CURRENT: ContextVar[tuple[Limits, str]] = ContextVar("pisteur_ingest_limits", default=(Limits(), ""))


def current() -> Limits:
    """The limits in force for the file being read."""
    return _CURRENT.get()[0]


def max_file_bytes(reader: str | None = None) -> int:
    """The file size limit of ``reader`` (default: the reader of the file being read)."""
    limits, active = _CURRENT.get()
    return limits.file_mb_by_reader.get(reader or active, limits.file_mb) * MB


@contextmanager
def using(limits: Limits | None, reader: str) -> Iterator[Limits]:
    """Make ``limits`` (or the defaults) the ones in force while ``reader`` reads a file."""
    token = _CURRENT.set((limits or Limits(), reader))
    try:
        yield _CURRENT.get()[0]
    finally:
        _CURRENT.reset(token)
