"""Ollama backend against a local server speaking /api/embed (a stub: no Ollama runs in CI)."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from stubs import hash_vector, ollama_stub

from pisteur.embed import EmbedderError, load_embedder
from pisteur.embed.ollama import ollama_base_url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("gpu-box", "http://gpu-box:11434"),
        ("gpu-box:8080", "http://gpu-box:8080"),
        ("http://gpu-box", "http://gpu-box:11434"),
        ("https://ollama.example.org", "https://ollama.example.org:443"),
        ("http://10.0.0.2:9999/", "http://10.0.0.2:9999"),
    ],
)
def test_ollama_host_forms(value: str, expected: str) -> None:
    assert ollama_base_url(value) == expected


def test_batches_prefixes_options_and_order(monkeypatch: pytest.MonkeyPatch) -> None:
    with ollama_stub({"nomic-embed-text:latest": 768}) as srv:
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{srv.port}")
        emb = load_embedder("ollama:nomic-embed-text", batch_size=4, num_ctx=8192, keep_alive="1m")
        assert emb.dims == 768 and len(srv.requests) == 0  # dims from the catalogue: no probe
        texts = [f"passage {i}" for i in range(10)]
        docs = emb.embed_documents(texts)
        assert docs.shape == (10, 768)
        assert len(srv.requests) == 3  # 4 + 4 + 2 inputs per request, not one request per text
        p = srv.requests[0]["payload"]
        assert p["input"][0] == "search_document: passage 0"  # nomic's document prefix
        assert p["truncate"] is True and p["keep_alive"] == "1m" and p["options"] == {"num_ctx": 8192}
        np.testing.assert_allclose(docs[7], hash_vector("search_document: passage 7", 768), atol=1e-6)
        q = emb.embed_queries(["où est le PV ?"])
        assert srv.requests[-1]["payload"]["input"] == ["search_query: où est le PV ?"]
        np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
        d = emb.describe()
        assert d["document_prefix"] == "search_document: " and d["query_prefix"] == "search_query: "


def test_qwen3_instruction_on_queries_only(monkeypatch: pytest.MonkeyPatch) -> None:
    with ollama_stub({"qwen3-embedding:4b": 2560}) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        emb = load_embedder("ollama:qwen3-embedding:4b", instruction="Retrouver les SMS pertinents")
        emb.embed_documents(["rdv demain 14h"])
        emb.embed_queries(["rendez-vous"])
        assert srv.requests[0]["payload"]["input"] == ["rdv demain 14h"]
        assert srv.requests[1]["payload"]["input"] == ["Instruct: Retrouver les SMS pertinents\nQuery:rendez-vous"]
        assert emb.describe()["query_instruction"].startswith("Instruct: Retrouver les SMS pertinents")


def test_unknown_model_probes_dims(monkeypatch: pytest.MonkeyPatch) -> None:
    with ollama_stub({"my-embedder:latest": 48}) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        emb = load_embedder("ollama:my-embedder")
        assert emb.dims == 48 and len(srv.requests) == 1


def test_model_not_pulled_names_the_pull_command(monkeypatch: pytest.MonkeyPatch) -> None:
    with ollama_stub({"bge-m3:latest": 1024}) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        emb = load_embedder("ollama:qwen3-embedding:0.6b")
        with pytest.raises(EmbedderError, match=r"ollama pull qwen3-embedding:0\.6b"):
            emb.embed_documents(["x"])
        assert len(srv.requests) == 1  # a 4xx is not retried


def test_server_down_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens on this port now
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    emb = load_embedder("ollama:bge-m3")
    with pytest.raises(EmbedderError, match="ollama serve"):
        emb.embed_documents(["x"])


def test_transient_5xx_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with ollama_stub({"bge-m3:latest": 1024}) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        monkeypatch.setattr("pisteur.embed.http_util.time.sleep", lambda s: None)
        emb = load_embedder("ollama:bge-m3")
        srv.fail_next = [500, 503]
        out = emb.embed_documents(["a", "b"])
        assert out.shape == (2, 1024) and len(srv.requests) == 3
        srv.fail_next = [500] * 10
        with pytest.raises(EmbedderError, match="HTTP 500"):
            emb.embed_documents(["a"])


def test_matryoshka_dims_recorded_in_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with ollama_stub({"qwen3-embedding:4b": 2560, "bge-m3:latest": 1024}) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        full = load_embedder("ollama:qwen3-embedding:4b")
        emb = load_embedder("ollama:qwen3-embedding:4b", dims=256)
        assert emb.name == "ollama:qwen3-embedding:4b@256d" and emb.dims == 256
        v = emb.embed_documents(["garde à vue"])
        w = full.embed_documents(["garde à vue"])
        np.testing.assert_allclose(v[0], w[0, :256] / np.linalg.norm(w[0, :256]), atol=1e-5)
        again = load_embedder(emb.name)  # the manifest's name rebuilds the same embedder
        assert again.dims == 256 and again.describe()["native_dims"] == 2560
        with pytest.raises(EmbedderError, match="not a Matryoshka model"):
            load_embedder("ollama:bge-m3", dims=512)
        with pytest.raises(EmbedderError, match="supports 32..2560"):
            load_embedder("ollama:qwen3-embedding:4b", dims=16)


def test_num_ctx_defaults_to_the_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    with ollama_stub({"bge-m3:latest": 1024, "mystery:latest": 8}) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        load_embedder("ollama:bge-m3").embed_documents(["x"])
        assert srv.requests[-1]["payload"]["options"] == {"num_ctx": 8192}
        unknown = load_embedder("ollama:mystery")  # not catalogued: Ollama's own default context
        assert "options" not in srv.requests[-1]["payload"] and unknown.max_tokens == 2048
