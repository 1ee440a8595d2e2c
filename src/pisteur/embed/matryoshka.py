"""Matryoshka truncation: keep the first N dimensions and re-normalise.

Only for models trained with MRL (catalogue ``mrl = [min, max]``); for any other model the first N
dimensions are not an embedding and the request is refused. The wrapper's ``name`` ends in ``@{N}d``
(``ollama:qwen3-embedding:4b@1024d``) so the index manifest records the dims and ``load_embedder`` can
rebuild the same embedder from the manifest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from pisteur.embed.base import Embedder, EmbedderError, normalize
from pisteur.models.catalog import ModelInfo

_SUFFIX = re.compile(r"^(?P<spec>.+)@(?P<dims>\d+)d$")


def split_dims(spec: str) -> tuple[str, int | None]:
    """``"ollama:qwen3-embedding:4b@1024d"`` -> (``"ollama:qwen3-embedding:4b"``, 1024)."""
    m = _SUFFIX.match(spec)
    if not m:
        return spec, None
    return m.group("spec"), int(m.group("dims"))


def check_dims(info: ModelInfo | None, dims: int, native: int, name: str) -> None:
    if dims == native:
        return
    if dims <= 0 or dims > native:
        raise EmbedderError(f"--dims {dims}: {name} gives {native}-dimensional vectors")
    if info is None:
        raise EmbedderError(
            f"--dims {dims}: {name} is not in the catalogue, so pisteur cannot tell whether it was trained "
            "with Matryoshka (MRL); truncating a non-MRL model gives meaningless vectors"
        )
    if info.mrl is None:
        raise EmbedderError(
            f"--dims {dims}: {info.name} is not a Matryoshka model (its first {dims} dimensions are not an "
            f"embedding); use its full {native} dimensions"
        )
    if not info.supports_dims(dims):
        raise EmbedderError(f"--dims {dims}: {info.name} supports {info.mrl[0]}..{info.mrl[1]} dimensions")


def truncate(v: np.ndarray, dims: int) -> np.ndarray:
    return normalize(np.asarray(v, dtype=np.float32)[:, :dims])


class MatryoshkaEmbedder:
    """Wraps an embedder; returns its first ``dims`` dimensions, L2-normalised."""

    def __init__(self, inner: Embedder, dims: int, info: ModelInfo | None) -> None:
        check_dims(info, dims, inner.dims, inner.name)
        self.inner = inner
        self.dims = dims
        self.max_tokens = inner.max_tokens
        self.name = f"{inner.name}@{dims}d"

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return truncate(self.inner.embed_documents(texts), self.dims)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return truncate(self.inner.embed_queries(texts), self.dims)

    def describe(self) -> dict[str, Any]:
        d = dict(self.inner.describe())
        d["native_dims"] = self.inner.dims
        d["dims"] = self.dims
        d["matryoshka"] = True
        return d

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close:
            close()


def wrap_dims(spec: str | None, options: dict[str, Any], build: Any) -> Embedder:
    """Build ``spec`` with ``build(spec, options)`` and apply ``dims`` (option or ``@Nd`` suffix)."""
    from pisteur.models.catalog import find_for_spec

    options = dict(options)
    dims = options.pop("dims", None)
    base_spec, suffix = split_dims(spec) if spec else (spec, None)
    dims = int(dims) if dims else suffix
    if dims:  # refuse before loading a large model when the catalogue already says no
        from pisteur.embed.base import resolve_spec

        info = find_for_spec(*resolve_spec(base_spec))
        if info is not None and info.dims and dims != info.dims:
            check_dims(info, dims, info.dims, info.name)
    inner, backend, name = build(base_spec, options)
    if not dims or dims == inner.dims:
        return inner
    return MatryoshkaEmbedder(inner, dims, find_for_spec(backend, name))
