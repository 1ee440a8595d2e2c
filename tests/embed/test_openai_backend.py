"""OpenAI-compatible backend against a local /v1/embeddings server (stub with TEI/OpenAI error shapes)."""

from __future__ import annotations

import numpy as np
import pytest
from stubs import hash_vector, openai_stub

from pisteur.embed import EmbedderError, load_embedder
from pisteur.embed.openai_http import base_url_from


def test_base_url_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PISTEUR_OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert base_url_from() == "https://api.openai.com/v1"
    assert base_url_from("http://localhost:8080") == "http://localhost:8080/v1"
    assert base_url_from("http://localhost:8000/v1/") == "http://localhost:8000/v1"
    assert base_url_from("http://h/v1/embeddings") == "http://h/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://a:1/v1")
    monkeypatch.setenv("PISTEUR_OPENAI_BASE_URL", "http://b:2/v1")
    assert base_url_from() == "http://b:2/v1"


def test_sorted_by_index_prefixes_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with openai_stub({"intfloat/multilingual-e5-large": 1024}, api_key="sk-test") as srv:
        monkeypatch.setenv("PISTEUR_OPENAI_BASE_URL", srv.url)
        monkeypatch.setenv("MY_KEY", "sk-test")
        emb = load_embedder("openai:intfloat/multilingual-e5-large", api_key_env="MY_KEY")
        texts = ["un", "deux", "trois"]
        out = emb.embed_documents(texts)
        for i, t in enumerate(texts):  # the stub answers in reverse order: rows must follow data[].index
            np.testing.assert_allclose(out[i], hash_vector("passage: " + t, 1024), atol=1e-6)
        assert srv.requests[0]["headers"]["Authorization"] == "Bearer sk-test"
        assert srv.requests[0]["payload"]["encoding_format"] == "float"
        emb.embed_queries(["quatre"])
        assert srv.requests[-1]["payload"]["input"] == ["query: quatre"]


def test_bad_key_and_missing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    with openai_stub({"m": 8}, api_key="right") as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "wrong")
        with pytest.raises(EmbedderError, match="refused the key"):
            load_embedder("openai:m", base_url=srv.url)
        monkeypatch.setenv("OPENAI_API_KEY", "right")
        with pytest.raises(EmbedderError, match="has no model 'nope'"):
            load_embedder("openai:nope", base_url=srv.url)
        assert len(srv.requests) == 2  # 4xx: no retries


def test_batch_limit_adapts(monkeypatch: pytest.MonkeyPatch) -> None:
    with openai_stub({"tei-model": 16}, max_batch=5) as srv:
        emb = load_embedder("openai:tei-model", base_url=srv.url, batch_size=64)
        texts = [f"t{i}" for i in range(23)]
        out = emb.embed_documents(texts)
        assert emb.batch_size == 5
        np.testing.assert_allclose(out[22], hash_vector("t22", 16), atol=1e-6)
        sizes = [len(r["payload"]["input"]) for r in srv.requests[1:]]  # [0] is the dims probe
        assert sizes[0] == 23 and max(sizes[1:]) == 5 and sum(sizes[1:]) == 23


def test_dimensions_and_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pisteur.embed.http_util.time.sleep", lambda s: None)
    with openai_stub({"text-embedding-3-large": 3072}) as srv:
        emb = load_embedder("openai:text-embedding-3-large", base_url=srv.url, dimensions=256)
        srv.fail_next = [502]
        out = emb.embed_documents(["x"])
        assert out.shape == (1, 256) and emb.dims == 256
        assert srv.requests[-1]["payload"]["dimensions"] == 256 and len(srv.requests) == 2
