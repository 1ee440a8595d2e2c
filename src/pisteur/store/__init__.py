"""Store stage: index directory (manifest + SQLite + vector layer) behind the ``Store`` protocol."""

from __future__ import annotations

from pathlib import Path

from pisteur.store.base import Filters, SourceState
from pisteur.store.lock import IndexLocked


def open_store(index_dir: Path, *, readonly: bool = True):  # -> LocalStore
    from pisteur.store.local import LocalStore

    return LocalStore(Path(index_dir), readonly=readonly)


__all__ = ["Filters", "IndexLocked", "SourceState", "open_store"]
