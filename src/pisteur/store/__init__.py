"""Store stage: index directory (manifest + SQLite + vector layer) behind the ``Store`` protocol."""

from __future__ import annotations

from pathlib import Path

from pisteur.store.base import Filters, SourceState
from pisteur.store.lock import IndexLocked


def open_store(index_dir: Path | None = None, *, readonly: bool = True, engine: str | None = None,
               uri: str | None = None):  # -> LocalStore | MilvusStore
    """Open an index: the local engine (an index directory) or Milvus (``engine="milvus"``, ``uri``; the
    collections' prefix is the index directory's name, default ``pisteur``). ``$PISTEUR_ENGINE`` and
    ``$PISTEUR_MILVUS_URI`` set the defaults."""
    import os

    engine = engine or os.environ.get("PISTEUR_ENGINE", "local")
    if engine == "milvus":
        from pisteur.store.milvus import MilvusStore

        uri = uri or os.environ.get("PISTEUR_MILVUS_URI")
        if not uri:
            raise ValueError("--engine milvus needs --uri (a Milvus server URL, or a local Milvus Lite .db file)")
        prefix = os.environ.get("PISTEUR_MILVUS_PREFIX", "pisteur")
        return MilvusStore(uri, prefix=prefix, readonly=readonly)
    if engine != "local":
        raise ValueError(f"unknown engine '{engine}' (local or milvus)")
    from pisteur.store.local import LocalStore

    if index_dir is None:
        from pisteur.config import default_index_dir

        index_dir = default_index_dir()
    return LocalStore(Path(index_dir), readonly=readonly)


__all__ = ["Filters", "IndexLocked", "SourceState", "open_store"]
