from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from pisteur.serve.http_api import TokenBucket, check_bind, create_app, is_loopback  # noqa: E402

LOCAL = "http://127.0.0.1:8765"


@pytest.fixture
def client(service):
    with TestClient(base_url=LOCAL, app=create_app(service, rate=0)) as c:
        yield c


def test_search_read_status_index_metrics(client):
    r = client.get("/api/search", params={"q": "garde à vue avocat", "k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["hits"][0]["source"].endswith("garde-a-vue.md") and body["hits"][0]["explain"]
    hid = body["hits"][0]["id"]
    p = client.post("/api/search", json={"q": "garde à vue avocat", "k": 2, "filters": {"kind": ["document"]}})
    assert p.status_code == 200 and p.json()["hits"][0]["id"] == hid
    kinds = client.get("/api/search", params={"q": "gare", "kind": "exchange,summary"}).json()
    assert kinds["hits"] == []
    rd = client.get("/api/read", params={"id": hid, "q": "avocat"}).json()
    psg = rd["passages"][0]
    assert psg["is_hit"] and [psg["text"][s:e] for s, e in psg["highlights"]] == ["avocat"]
    assert client.get("/api/read", params={"id": 424242}).status_code == 404
    assert client.get("/api/search", params={"q": ""}).status_code == 422
    st = client.get("/api/status").json()
    assert st["ready"] and st["chunks"] == 4 and st["searches"] >= 2
    ix = client.post("/api/index", json={}).json()
    assert ix["started"] is False and "off" in ix["message"]
    m = client.get("/metrics")
    assert m.headers["content-type"].startswith("text/plain")
    assert "# TYPE pisteur_search_latency_seconds histogram" in m.text
    assert 'pisteur_search_latency_seconds_bucket{cached="miss",le="+Inf",via="http"}' in m.text
    assert "pisteur_index_bytes" in m.text
    schema = client.get("/openapi.json").json()
    assert {"/api/search", "/api/read", "/api/status", "/api/index"} <= set(schema["paths"])


def test_dns_rebinding_host_refused(client):
    r = client.get("/api/search", params={"q": "pain"}, headers={"host": "evil.example:8765"})
    assert r.status_code == 421
    assert client.get("/api/status", headers={"host": "localhost:8765"}).status_code == 200
    assert client.get("/api/status", headers={"host": "[::1]:8765"}).status_code == 200


def test_web_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="search-form"' in page.text
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "textContent" in js.text
    assert "innerHTML" not in js.text.replace("never innerHTML", "")  # hits are inserted as text only


def test_unloadable_model_gives_503(tmp_path):
    """An index whose model cannot be loaded in this process (here: a test-only backend unknown to it) is
    reported, not a crash."""
    import shutil

    from pisteur.indexer import index_paths
    from pisteur.serve.service import Service

    from .conftest import DOCS

    shutil.copytree(DOCS, tmp_path / "d")
    index_paths(tmp_path / "i", [tmp_path / "d"], model="test-hash:x")
    manifest = tmp_path / "i" / "manifest.json"
    manifest.write_text(manifest.read_text().replace("test-hash:x", "no-such-backend:x"))
    with TestClient(base_url=LOCAL, app=create_app(Service(tmp_path / "i"), mcp=False)) as c:
        r = c.get("/api/search", params={"q": "pain"})
        assert r.status_code == 503 and "model" in r.json()["detail"]


def test_no_index_gives_503(tmp_path):
    from pisteur.serve.service import Service

    with TestClient(base_url=LOCAL, app=create_app(Service(tmp_path / "none"), mcp=False)) as c:
        r = c.get("/api/search", params={"q": "x"})
        assert r.status_code == 503 and "no index" in r.json()["detail"]
        assert c.get("/api/status").json()["ready"] is False


def test_loopback_detection_and_refusal_without_token(service):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")
    with pytest.raises(ValueError, match="token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(ValueError, match="token"):
        create_app(service, host="0.0.0.0")
    check_bind("0.0.0.0", "s3cret")
    check_bind("127.0.0.1", None)


def test_token_required_off_loopback(service):
    app = create_app(service, host="0.0.0.0", token="s3cret", rate=0)
    with TestClient(app) as c:
        assert c.get("/api/status").status_code == 401
        assert c.get("/api/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/metrics").status_code == 401
        assert c.post("/mcp", json={}).status_code == 401
        ok = c.get("/api/status", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["ready"]
        assert c.get("/").status_code == 200  # the page holds no data; it asks for the token


def test_rate_limit(service):
    with TestClient(base_url=LOCAL, app=create_app(service, rate=1, burst=3, mcp=False)) as c:
        codes = [c.get("/api/status").status_code for _ in range(6)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        r = c.get("/api/status")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert c.get("/").status_code == 200  # static page not limited


def test_token_bucket_refills():
    b = TokenBucket(rate=1000, burst=1)
    assert b.take("a") == 0 and b.take("a") > 0
    assert b.take("b") == 0  # per client
    import time

    time.sleep(0.01)
    assert b.take("a") == 0


def test_request_size_limit(service):
    with TestClient(base_url=LOCAL, app=create_app(service, max_body=1000, rate=0, mcp=False)) as c:
        big = {"q": "x" * 1500}
        r = c.post("/api/search", content=json.dumps(big), headers={"content-type": "application/json"})
        assert r.status_code == 413

        def chunks():
            yield b'{"q": "'
            yield b"y" * 2000
            yield b'"}'

        r2 = c.post("/api/search", content=chunks(), headers={"content-type": "application/json"})
        assert r2.status_code == 413
        ok = c.post("/api/search", json={"q": "pain"})
        assert ok.status_code == 200


@pytest.mark.slow  # more than ~5 s on a 2-core machine
def test_serve_cli_subprocess(docs_index):
    """`pisteur serve` as users start it: page, API and MCP endpoint answer on the chosen port."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tests = str(Path(__file__).parent.parent)
    code = f"import sys; sys.path.insert(0, {tests!r}); import helpers; from pisteur.cli import main; main()"
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--index", str(docs_index), "--no-live",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ))
    try:
        base = f"http://127.0.0.1:{port}"
        t0 = time.monotonic()
        while True:
            try:
                st = httpx.get(base + "/api/status", timeout=5).json()
                break
            except httpx.HTTPError:
                if time.monotonic() - t0 > 60 or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert st["ready"] and st["chunks"] == 4
        r = httpx.get(base + "/api/search", params={"q": "farine de seigle"}).json()
        assert r["hits"][0]["source"].endswith("boulangerie.md")
        assert "search-form" in httpx.get(base + "/").text
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
        m = httpx.post(base + "/mcp", json=init,
                       headers={"accept": "application/json, text/event-stream"})
        assert m.status_code == 200 and "pisteur" in m.text
        # hostile requests on the real server: a 10 MB query string, an id past SQLite's integers
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sk:
            try:  # the server may refuse and close before the whole request line is sent
                sk.sendall(b"GET /api/search?q=" + b"x" * (10 * 1024 * 1024) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answer = sk.recv(4096).split(b"\r\n", 1)[0]
            except ConnectionError:
                answer = b"reset"
            assert answer in (b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 414 URI Too Long", b"reset"), answer
        assert httpx.get(base + "/api/status").status_code == 200  # and it still serves
        with httpx.Client(base_url=base) as c:  # one keep-alive connection
            assert c.get("/api/read", params={"id": "99999999999999999999"}).status_code == 404
            assert c.get("/api/status").status_code == 200
            assert c.get("/docs").status_code == 404
    except Exception:
        proc.terminate()
        print(proc.communicate(timeout=20)[1].decode()[-3000:])
        raise
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)


def test_bad_filters_get_the_command_line_s_one_line_answer(client):
    bad_kind = client.get("/api/search", params={"q": "gare", "kind": "foo"})
    assert bad_kind.status_code in (400, 422) and "is not a kind" in bad_kind.text
    bad_date = client.get("/api/search", params={"q": "gare", "date_from": "2025-13-45"})
    assert bad_date.status_code in (400, 422) and "date_from" in bad_date.text
    assert client.get("/api/search", params={"q": "gare", "date_from": "hier"}).status_code == 200
    assert client.get("/api/search", params={"q": "gare", "k": 0}).status_code in (400, 422)
