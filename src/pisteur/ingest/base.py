"""The reader protocol and the registry of readers.

A reader turns one source file into :class:`~pisteur.types.Segment` objects. Each reader lives in its own
module and registers itself with :func:`register`; :mod:`pisteur.ingest` imports every reader module so
that the registry is complete. Readers raise :class:`~pisteur.types.SkipFile` for a file that cannot be
indexed at all; anything else they raise is turned into a ``SkipFile`` by :func:`pisteur.ingest.read`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from pisteur.registry import Registry, RegistryError
from pisteur.types import ParseResult


@runtime_checkable
class Reader(Protocol):
    name: str  # registry key, stored in the index with each source
    extensions: tuple[str, ...]  # lower-case, with the dot: (".txt", ".md")

    def probe(self, path: Path) -> str | None:
        """Cheap check at discovery time: ``None`` if the file looks readable, else a one-line reason."""
        ...

    def read(self, path: Path, start_offset: int = 0) -> ParseResult:
        """Parse the file (from ``start_offset`` for append-only formats); raise ``SkipFile`` if hopeless."""
        ...


READERS: Registry[Reader] = Registry("reader", entry_point_group="pisteur.readers")
_BY_EXT: dict[str, str] = {}


def register(cls: type) -> type:
    """Class decorator: instantiate the reader and register it under its name and extensions (a name or an
    extension claimed twice is an error: no import order decides which reader wins)."""
    reader = cls()
    if not isinstance(reader, Reader):  # pragma: no cover - programming error
        raise TypeError(f"{cls.__name__} does not implement the Reader protocol")
    if reader.name in READERS and type(READERS.get(reader.name)) is cls:
        return cls  # the same module imported again
    READERS.add(reader.name, reader)
    for ext in reader.extensions:
        owner = _BY_EXT.setdefault(ext.lower(), reader.name)
        if owner != reader.name:
            raise RegistryError(f"extension {ext} is claimed by readers '{owner}' and '{reader.name}'")
    return cls


def get_reader(name: str) -> Reader:
    try:
        return READERS.get(name)
    except RegistryError as exc:
        raise KeyError(str(exc)) from None


def reader_for(path: Path) -> str | None:
    """The reader name for a file, by extension (``None`` when no reader handles it)."""
    return _BY_EXT.get(path.suffix.lower())


def reader_names() -> list[str]:
    return READERS.names()


def no_probe(path: Path) -> str | None:
    """Default probe: every file with a known extension is worth a read."""
    return None


ProbeFn = Callable[[Path], str | None]
