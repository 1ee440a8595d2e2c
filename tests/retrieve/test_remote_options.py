"""HTTP ``options`` and the MCP ``search`` tool accept only the options a remote client may set: a path
(``dictionaries``), a reranker spec with a URL or a path, ``query_vector``, an unknown name are refused with
422 / a tool error before anything runs (no file opened, no request sent)."""

from __future__ import annotations

import http.server
import threading
from typing import Any

import pytest

from pisteur.retrieve.options import SearchOptions, remote_names
from pisteur.serve.models import SearchResponse


class RecordingService:
    """Stands in for ``Service``: records what reached it (nothing must, for a refused request)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def start(self) -> None: ...

    def close(self) -> None: ...

    def search(self, query: str, k: int, filters: Any, *, via: str, explain: bool, **options: Any) -> SearchResponse:
        self.calls.append(options)
        return SearchResponse(query=query, k=k, hits=[], took_ms=0.0)


class _Counting(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        _Counting.hits += 1
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args: Any) -> None: ...


@pytest.fixture
def rerank_server():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Counting.hits = 0
    yield f"http://127.0.0.1:{srv.server_address[1]}/rerank"
    srv.shutdown()


@pytest.fixture
def client():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from pisteur.serve.http_api import create_app

    svc = RecordingService()
    with TestClient(base_url="http://127.0.0.1:8765", app=create_app(svc, rate=0, mcp=False)) as c:
        yield c, svc


def test_server_side_options_are_refused_over_http(client, rerank_server, tmp_path):
    c, svc = client
    probe = tmp_path / "exists.toml"
    probe.write_text('name = "x"\n')
    cases = [
        {"dictionaries": ["/dev/zero"]},
        {"dictionaries": [str(probe)]},
        {"dictionaries": [str(tmp_path / "missing.toml")]},
        {"rerank": f"tei:{rerank_server}"},
        {"rerank": "cross-encoder:/etc"},
        {"query_vector": [0.1, 0.2]},
        {"overlap": False},
        {"colour": "red"},
        {"candidates": 10**9},
        {"weights": {"dense": 1, "secret": 2}},
    ]
    bodies = []
    for opts in cases:
        r = c.post("/api/search", json={"q": "rdv", "options": opts})
        assert r.status_code == 422, (opts, r.text)
        bodies.append(r.text)
    assert svc.calls == [] and _Counting.hits == 0
    # the answers for an existing and a missing server file are the same (nothing said about the disk)
    assert bodies[1].replace(str(probe), "P") == bodies[2].replace(str(tmp_path / "missing.toml"), "P")
    assert "server-side configuration" in bodies[0]


def test_remote_options_reach_the_service_typed(client):
    c, svc = client
    r = c.post("/api/search", json={"q": "rdv", "options": {"mode": "lexical", "rerank": "none",
                                                            "weights": {"expansion": 2}}})
    assert r.status_code == 200, r.text
    assert svc.calls == [{"mode": "lexical", "rerank": "none", "weights": {"expansion": 2.0}}]
    # what arrives merges into SearchOptions without error
    merged = SearchOptions().merged(svc.calls[0])
    assert merged.mode == "lexical" and merged.weights.expansion == 2.0 and merged.weights.dense == 1.0


def test_remote_subset_excludes_paths_urls_and_vectors():
    names = set(remote_names())
    assert not {"dictionaries", "overlap", "query_vector"} & names
    assert {"mode", "fusion", "weights", "expand", "rerank"} <= names


def test_mcp_search_refuses_server_side_options(rerank_server):
    pytest.importorskip("mcp")
    import anyio
    from mcp import Client

    from pisteur.serve.mcp_server import build_server

    svc = RecordingService()
    srv = build_server(svc)  # type: ignore[arg-type]

    async def go() -> None:
        async with Client(srv) as cl:
            for opts in ({"dictionaries": ["/dev/zero"]}, {"rerank": f"tei:{rerank_server}"}):
                res = await cl.call_tool("search", {"query": "rdv", "options": opts})
                assert res.is_error
            ok = await cl.call_tool("search", {"query": "rdv", "options": {"mode": "dense"}})
            assert not ok.is_error

    anyio.run(go)
    assert svc.calls == [{"mode": "dense"}] and _Counting.hits == 0
