"""GGUF backend: the logic that decides vectors (pooling per model, EOS for last-token models, cutting to
max tokens) is tested without llama-cpp-python; the real run is in test_gguf_real.py (needs the extra)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pisteur.embed import EmbedderError, load_embedder
from pisteur.embed.gguf import eos_plan, fit_tokens, pooling_type_for, tail_specials
from pisteur.models.catalog import find_for_spec, get_model


def test_pooling_per_model() -> None:
    assert pooling_type_for(find_for_spec("gguf", "/m/Qwen3-Embedding-0.6B-Q8_0.gguf")) == 3  # last
    assert pooling_type_for(get_model("bge-m3")) == 2  # cls
    assert pooling_type_for(get_model("nomic-embed-text-v1.5")) == 1  # mean
    assert pooling_type_for(None) is None  # unknown model: the GGUF metadata decides
    assert pooling_type_for(None, "mean") == 1
    with pytest.raises(EmbedderError, match="pooling 'max' unknown"):
        pooling_type_for(None, "max")


def test_gguf_file_names_map_to_the_catalogue() -> None:
    assert find_for_spec("gguf", "/models/Qwen3-Embedding-4B-Q5_K_M.gguf").id == "qwen3-embedding-4b"
    assert find_for_spec("gguf", "qwen3-embedding-8b-q4_k_m.gguf").id == "qwen3-embedding-8b"
    assert find_for_spec("gguf", "/models/bge-m3-Q8_0.gguf").id == "bge-m3"
    assert find_for_spec("gguf", "/models/mystery.gguf") is None


def test_eos_plan_and_fit() -> None:
    eos = 151643
    assert eos_plan([1, 2, eos], eos, needs_eos=True) == "model"  # official Qwen3 GGUF: llama.cpp adds it
    assert eos_plan([1, 2], eos, needs_eos=True) == "pisteur"
    assert eos_plan([1, 2], eos, needs_eos=False) == ""
    assert fit_tokens([5, 6, 7], 8, [eos]) == [5, 6, 7, eos]  # pisteur appends the EOS
    assert fit_tokens([5, 6, 7, eos], 8, [eos]) == [5, 6, 7, eos]  # never twice
    assert fit_tokens(list(range(20)), 8, [eos]) == [0, 1, 2, 3, 4, 5, 6, eos]  # cut, EOS kept last
    sep = 102
    assert fit_tokens([101, 7, 8, 9, sep], 4, [sep]) == [101, 7, 8, sep]  # BERT: [SEP] survives the cut
    assert fit_tokens([101, 7, 8, 9, sep], 4, [sep, eos]) == [101, 7, sep, eos]
    assert fit_tokens(list(range(20)), 8, []) == list(range(8))


def test_tail_specials() -> None:
    assert tail_specials(lambda t, b, s: [101, 102], 101) == [102]  # BERT: [CLS] ... [SEP]
    assert tail_specials(lambda t, b, s: [151643], 151644) == [151643]  # a GGUF that adds the EOS itself
    assert tail_specials(lambda t, b, s: [], 1) == []


def test_missing_file_and_missing_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EmbedderError, match="no GGUF file"):
        load_embedder(f"gguf:{tmp_path / 'absent.gguf'}")
    f = tmp_path / "Qwen3-Embedding-0.6B-Q8_0.gguf"
    f.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if the extra were not installed
    with pytest.raises(EmbedderError, match=r"pip install 'pisteur\[gguf\]'"):
        load_embedder(f"gguf:{f}")
