"""pool: several embedding servers (real Ollama / OpenAI protocols, local stubs) used together."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from typing import Any

import numpy as np
import pytest
from stubs import StubServer, hash_vector, ollama_stub, openai_stub

from pisteur.embed import EmbedderError, load_embedder

MODEL, DIMS = "qwen3-embedding:0.6b", 1024


class InFlight:
    """Counts requests being served at once, across every stub it wraps."""

    def __init__(self, delay: float) -> None:
        self.delay, self.now, self.max = delay, 0, 0
        self._lock = threading.Lock()

    def wrap(self, stub: StubServer) -> StubServer:
        inner = stub.route

        def route(srv: StubServer, path: str, p: dict[str, Any], h: dict[str, str]) -> tuple[int, Any]:
            with self._lock:
                self.now += 1
                self.max = max(self.max, self.now)
            try:
                time.sleep(self.delay)  # a server busy with the batch: lets the others' requests overlap
                return inner(srv, path, p, h)
            finally:
                with self._lock:
                    self.now -= 1

        stub.route = route
        return stub


def _texts(n: int) -> list[str]:
    return [f"message numéro {i} : rendez-vous à {i % 24} h" for i in range(n)]


@pytest.mark.parametrize("servers", [1, 2, 4])
def test_documents_are_spread_over_every_server_concurrently_and_keep_their_order(servers: int) -> None:
    counter = InFlight(delay=0.05)
    with ExitStack() as stack:
        stubs = [stack.enter_context(counter.wrap(ollama_stub({MODEL: DIMS}))) for _ in range(servers)]
        emb = load_embedder(f"pool:ollama:{MODEL}", urls=[s.url for s in stubs], batch_size=4)
        texts = _texts(48)
        vecs = emb.embed_documents(texts)
    assert counter.max == servers  # one request in flight per server at once, all servers busy together
    assert all(s.requests for s in stubs)
    assert sum(len(r["payload"]["input"]) for s in stubs for r in s.requests) == len(texts)
    sent = [t for s in stubs for r in s.requests for t in r["payload"]["input"]]
    expected = np.asarray([hash_vector(t, DIMS) for t in sent])
    got = {t: v for t, v in zip(texts, vecs, strict=True)}
    # order kept: the i-th vector is the i-th text's, whichever server embedded it (prefix applied by Ollama's
    # catalogue entry is none for documents, so the stub saw the raw text)
    assert np.allclose(np.asarray([got[t] for t in sent]), expected, atol=1e-6)


def test_per_server_concurrency_multiplies_the_requests_in_flight() -> None:
    counter = InFlight(delay=0.05)
    with ExitStack() as stack:
        stubs = [stack.enter_context(counter.wrap(openai_stub({"m": 8}, shuffle=True))) for _ in range(2)]
        emb = load_embedder("pool:openai:m", urls=[s.url + "/v1" for s in stubs], batch_size=2, per_server=2)
        vecs = emb.embed_documents(_texts(24))
    assert counter.max == 4
    assert np.allclose(vecs, np.asarray([hash_vector(t, 8) for t in _texts(24)]), atol=1e-6)


def test_a_failing_server_hands_its_batches_to_the_others() -> None:
    with ollama_stub({MODEL: DIMS}) as good, ollama_stub({MODEL: DIMS}) as bad:
        bad.fail_next = [500] * 100  # answers every request with a server error
        emb = load_embedder(f"pool:ollama:{MODEL}", urls=[bad.url, good.url], batch_size=3, retries=0)
        texts = _texts(30)
        vecs = emb.embed_documents(texts)
        assert bad.requests  # it was tried
    assert np.allclose(vecs, np.asarray([hash_vector(t, DIMS) for t in texts]), atol=1e-6)


def test_a_server_that_is_down_is_skipped_and_all_down_is_one_clear_error() -> None:
    with ollama_stub({MODEL: DIMS}) as good:
        dead = "http://127.0.0.1:9"  # nothing listens on the discard port
        emb = load_embedder(f"pool:ollama:{MODEL}", urls=[dead, good.url], batch_size=5, retries=0)
        assert emb.embed_documents(_texts(20)).shape == (20, DIMS)
        assert emb.embed_queries(["où est le colis ?"]).shape == (1, DIMS)
    emb = load_embedder(f"pool:ollama:{MODEL}", urls=[dead], retries=0)
    with pytest.raises(EmbedderError, match="every pool server failed"):
        emb.embed_documents(_texts(3))


def test_urls_come_from_the_environment_and_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PISTEUR_POOL_URLS", raising=False)
    with pytest.raises(EmbedderError, match="no server URLs"):
        load_embedder(f"pool:ollama:{MODEL}")
    with pytest.raises(EmbedderError, match="pool:ollama:MODEL"):
        load_embedder("pool:gguf:x", urls=["http://a"])
    with ollama_stub({MODEL: DIMS}) as a, ollama_stub({MODEL: DIMS}) as b:
        monkeypatch.setenv("PISTEUR_POOL_URLS", f"{a.url},{b.url}")
        emb = load_embedder(f"pool:ollama:{MODEL}")
        assert emb.describe()["servers"] == [a.url, b.url] and emb.describe()["backend"] == "pool"
        assert emb.embed_documents([]).shape == (0, DIMS)
