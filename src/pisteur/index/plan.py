"""What a run has to do: which files are new, unchanged, grown (append-only sessions), changed, or left
half-stored by a killed run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pisteur.store.base import SourceState

HEAD_BYTES = 64 * 1024
APPEND_READERS = {"claude", "claude-code"}  # append-only JSONL readers

Action = Literal["new", "changed", "append", "resume", "same"]


@dataclass
class PlanItem:
    path: Path
    reader: str
    action: Action
    from_offset: int | None  # append: re-read from this byte offset
    size: int

    @property
    def bytes_to_read(self) -> int:
        return max(0, self.size - (self.from_offset or 0))


def fingerprint(path: Path, length: int | None = None) -> str:
    with open(path, "rb") as f:
        head = f.read(min(HEAD_BYTES, length) if length is not None else HEAD_BYTES)
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def in_scope(path: str, roots: Sequence[Path]) -> bool:
    p = Path(path)
    return any(p == r or r in p.parents for r in roots)


def plan(files: list[tuple[Path, str]], known: dict[str, SourceState], reader_version: int) -> Iterator[PlanItem]:
    """Classify discovered files. A source whose row says ``partial`` (a run killed inside it) is redone
    whole: its stored chunks are replaced, and their vectors reused by text hash."""
    for path, reader in files:
        try:
            st = path.stat()
        except OSError:
            continue  # gone since discovery: the next run removes it
        old = known.get(str(path))
        if old is None:
            yield PlanItem(path, reader, "new", None, st.st_size)
        elif old.status == "partial":
            yield PlanItem(path, reader, "resume", None, st.st_size)
        elif (old.size == st.st_size and old.mtime_ns == st.st_mtime_ns and old.reader == reader
              and old.reader_version == reader_version):
            yield PlanItem(path, reader, "same", None, st.st_size)
        elif (reader in APPEND_READERS and old.status == "ok" and old.resume_offset is not None
              and st.st_size > old.size and old.reader_version == reader_version
              and fingerprint(path, old.size) == old.fingerprint):
            yield PlanItem(path, reader, "append", old.resume_offset, st.st_size)
        else:
            yield PlanItem(path, reader, "changed", None, st.st_size)
