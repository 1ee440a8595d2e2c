"""Cross-encoder reranking through sentence-transformers, from a local model folder (no download).

``cross-encoder:/path/to/bge-reranker-v2-m3`` (any folder ``CrossEncoder(path)`` loads). Needs the ``st``
extra: ``pip install 'pisteur[st]'``. Loading is lazy (first rerank) and the model is kept.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pisteur.retrieve.rerank.base import RerankContext, RerankError, register_reranker, texts_of
from pisteur.types import Hit


class CrossEncoderReranker:
    def __init__(self, path: str, *, batch_size: int = 16, max_length: int = 512, device: str = "cpu") -> None:
        if not path:
            raise RerankError("cross-encoder needs a local model folder: cross-encoder:/path/to/model")
        self.path = Path(os.path.expanduser(path))
        if not self.path.exists():
            raise RerankError(f"cross-encoder model folder not found: {self.path} (no download is attempted)")
        self.name = f"cross-encoder:{self.path}"
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import CrossEncoder
            except ImportError as exc:
                raise RerankError(
                    "the cross-encoder reranker needs sentence-transformers: pip install 'pisteur[st]'"
                ) from exc
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                self._model = CrossEncoder(
                    str(self.path), max_length=self.max_length, device=self.device, local_files_only=True
                )
            except TypeError:  # older sentence-transformers without local_files_only
                self._model = CrossEncoder(str(self.path), max_length=self.max_length, device=self.device)
            except Exception as exc:  # noqa: BLE001 - report any loading failure with the path
                raise RerankError(f"cannot load cross-encoder from {self.path}: {exc}") from exc
        return self._model

    def rerank(self, query: str, hits: Sequence[Hit | str], context: RerankContext | None = None) -> np.ndarray:
        texts = texts_of(hits)
        if not texts:
            return np.zeros(0)
        model = self._load()
        scores = model.predict(
            [(query, t) for t in texts], batch_size=self.batch_size, show_progress_bar=False
        )
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim == 2:  # a model with several labels: take the last ("relevant") column
            scores = scores[:, -1]
        return scores


@register_reranker("cross-encoder")
def _ce(arg: str, **options: Any) -> CrossEncoderReranker:
    return CrossEncoderReranker(arg, **options)


@register_reranker("st")
def _st(arg: str, **options: Any) -> CrossEncoderReranker:
    return CrossEncoderReranker(arg, **options)
