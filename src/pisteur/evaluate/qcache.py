"""A persistent cache of *query* vectors, so bench re-runs do not re-embed the queries of a dataset
(one SQLite file per model under ``<cache>/embeddings/``, suffix ``-queries``); documents go to ``inner``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pisteur.embed.cache import CachedEmbedder


class QueryCachedEmbedder(CachedEmbedder):
    def __init__(self, inner: Any, directory: Path | None = None) -> None:
        super().__init__(inner, directory, documents=False, queries=True)

    def close(self) -> None:  # the wrapped model belongs to the caller
        if self._queries is not None:
            self._queries.close()
