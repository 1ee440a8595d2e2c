"""Store stage: index directory (manifest + SQLite + vector layer) behind the ``Store`` protocol."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pisteur.registry import Registry, RegistryError
from pisteur.store.base import Filters, SourceState, Store
from pisteur.store.lock import IndexLocked

# An engine opener: (index directory or None, readonly, uri) -> a Store.
EngineOpener = Callable[[Path | None, bool, str | None], Any]
ENGINES: Registry[EngineOpener] = Registry("engine", entry_point_group="pisteur.engines")


@ENGINES.register("local")
def _open_local(index_dir: Path | None, readonly: bool, uri: str | None) -> Any:
    from pisteur.store.local import LocalStore

    if index_dir is None:
        from pisteur.config import default_index_dir

        index_dir = default_index_dir()
    return LocalStore(Path(index_dir), readonly=readonly)


@ENGINES.register("milvus")
def _open_milvus(index_dir: Path | None, readonly: bool, uri: str | None) -> Any:
    from pisteur.store.milvus import MilvusStore

    uri = uri or os.environ.get("PISTEUR_MILVUS_URI")
    if not uri:
        raise ValueError("--engine milvus needs --uri (a Milvus server URL, or a local Milvus Lite .db file)")
    prefix = os.environ.get("PISTEUR_MILVUS_PREFIX", "pisteur")
    return MilvusStore(uri, prefix=prefix, readonly=readonly)


def open_store(index_dir: Path | None = None, *, readonly: bool = True, engine: str | None = None,
               uri: str | None = None) -> Any:  # LocalStore | MilvusStore: both satisfy ``Store``
    """Open an index: the local engine (an index directory) or Milvus (``engine="milvus"``, ``uri``; the
    collections' prefix is ``$PISTEUR_MILVUS_PREFIX``, default ``pisteur``). ``$PISTEUR_ENGINE`` and
    ``$PISTEUR_MILVUS_URI`` set the defaults."""
    name = engine or os.environ.get("PISTEUR_ENGINE", "local")
    try:
        opener = ENGINES.get(name)
    except RegistryError:
        raise ValueError(f"unknown engine '{name}' ({' or '.join(ENGINES.names())})") from None
    return opener(index_dir, readonly, uri)


__all__ = ["ENGINES", "Filters", "IndexLocked", "SourceState", "Store", "open_store"]
