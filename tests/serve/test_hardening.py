"""Hostile requests against the HTTP server: oversized queries, out-of-range ids, cross-site POSTs, forged
Host headers, guessed tokens; security headers on every response."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from pisteur.serve.guard import SECURITY_HEADERS, host_is_loopback, origin_matches, parse_host  # noqa: E402
from pisteur.serve.http_api import create_app  # noqa: E402
from pisteur.serve.limits import MAX_QUERY_CHARS  # noqa: E402

LOCAL = "http://127.0.0.1:8765"
BIG = "x" * (10 * 1024 * 1024)


@pytest.fixture
def client(service):
    with TestClient(base_url=LOCAL, app=create_app(service, rate=0, mcp=False)) as c:
        yield c


def _has_security_headers(r) -> bool:
    return all(r.headers.get(k.decode()) == v.decode() for k, v in SECURITY_HEADERS)


def test_huge_query_refused_before_any_work(service):
    calls: list[str] = []
    real = service.embedder

    def spy(store):
        calls.append("embedder")
        return real(store)

    service.embedder = spy
    service.start = lambda *a, **k: None  # no background warm-up: any model use would be a request's
    with TestClient(base_url=LOCAL, app=create_app(service, rate=0, mcp=False)) as client:
        _huge_queries(client, service, calls)


def _huge_queries(client, service, calls: list[str]) -> None:
    r = client.post("/api/search", json={"q": BIG})
    assert r.status_code == 413  # the body cap answers first
    r = client.get("/api/search", params={"q": "y" * (MAX_QUERY_CHARS + 1)})
    assert r.status_code == 422 and "2000" in r.text
    with pytest.raises(ValueError, match="query too long"):
        service.search("z" * (MAX_QUERY_CHARS + 1))
    assert calls == []
    assert client.get("/api/search", params={"q": "y" * MAX_QUERY_CHARS}).status_code == 200


def test_read_out_of_range_id_is_404(client):
    for bad in ("99999999999999999999", str(2**63), "-1"):
        r = client.get("/api/read", params={"id": bad})
        assert r.status_code == 404, (bad, r.text)
    assert client.get("/api/read", params={"id": "abc"}).status_code == 422


def test_security_headers_everywhere(client):
    for r in (client.get("/"), client.get("/api/status"), client.get("/static/app.js"),
              client.get("/api/read", params={"id": 424242}),
              client.get("/api/status", headers={"host": "evil.example"})):
        assert _has_security_headers(r), (r.request.url, dict(r.headers))
    assert "frame-ancestors 'none'" in client.get("/").headers["content-security-policy"]


def test_no_cdn_docs_but_schema_kept(client):
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert "/api/search" in client.get("/openapi.json").json()["paths"]
    page = client.get("/").text + client.get("/static/app.js").text
    assert "cdn." not in page and "https://" not in page


def test_cross_site_posts_refused(client):
    r = client.post("/api/index", content="x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = client.post("/api/search", content=json.dumps({"q": "pain"}), headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = client.post("/api/search", content="q=pain", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = client.post("/api/index", json={}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    r = client.post("/api/index", json={}, headers={"origin": "null"})
    assert r.status_code == 403
    ok = client.post("/api/search", json={"q": "pain"}, headers={"origin": "http://127.0.0.1:8765"})
    assert ok.status_code == 200
    assert client.post("/api/search", json={"q": "pain"}).status_code == 200  # curl sends no Origin


@pytest.mark.parametrize("host", ["[::1]evil.com", "[::1]:8765evil", "127.0.0.1.evil.com", "127.0.0.1:80:90",
                                  "localhost@evil.com", "[::1", "evil.com", "", "127.0.0.1 evil"])
def test_forged_loopback_hosts_refused(client, host):
    assert not host_is_loopback(host)
    assert client.get("/api/status", headers={"host": host}).status_code in (400, 421)


def test_host_parsing():
    assert parse_host("[::1]:8765") == "[::1]" and parse_host("LOCALHOST:1") == "localhost"
    assert parse_host("127.0.0.1") == "127.0.0.1" and parse_host("[::1]evil.com") is None
    assert parse_host("[zz]:80") is None and parse_host("a:b") is None
    assert host_is_loopback("[::1]") and host_is_loopback("127.0.0.2:80") and host_is_loopback("localhost")
    assert origin_matches("http://127.0.0.1:8765", "127.0.0.1:8765")
    assert not origin_matches("http://127.0.0.1:8766", "127.0.0.1:8765")


def test_failed_logins_are_rate_limited(service):
    app = create_app(service, host="0.0.0.0", token="s3cret", rate=0, mcp=False)
    good = {"Authorization": "Bearer s3cret"}
    with TestClient(app) as c:
        assert c.get("/api/status", headers=good).status_code == 200
        codes = [c.get("/api/status", headers={"Authorization": f"Bearer guess{i}"}).status_code
                 for i in range(8)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
        locked = c.get("/api/status", headers=good)  # a right guess now would tell the attacker nothing
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
        assert c.get("/").status_code == 200


def test_audit_over_http_names_client_and_token_fingerprint(docs_index: Path, tmp_path: Path):
    from pisteur.serve.audit import records, token_fingerprint, verify
    from pisteur.serve.service import Service

    log = tmp_path / "audit.jsonl"
    from pisteur.serve.audit import AuditLog

    svc = Service(docs_index, audit=AuditLog(log))
    app = create_app(svc, host="0.0.0.0", token="s3cret-token", rate=0, mcp=False)
    with TestClient(app) as c:
        h = {"Authorization": "Bearer s3cret-token"}
        hit = c.get("/api/search", params={"q": "farine", "project": "boul"}, headers=h).json()
        c.get("/api/search", params={"q": "farine"}, headers=h)
        hid = hit["hits"][0]["id"] if hit["hits"] else 1
        c.get("/api/read", params={"id": hid}, headers=h)
    recs = list(records(log))
    assert [r["event"] for r in recs][:1] == ["search"] and recs[0]["filters"] == {"project": "boul"}
    assert recs[1]["query"] == "farine" and recs[1]["hits"] == len(recs[1]["ids"]) > 0
    assert all(r["via"] == "http" and r["client"] == "testclient" for r in recs)
    assert all(r["token"] == token_fingerprint("s3cret-token") for r in recs)
    assert "s3cret-token" not in log.read_text()
    assert recs[-1]["event"] == "read" and recs[-1]["id"] == hid
    assert verify(log).ok and oct(log.stat().st_mode & 0o777) == "0o600"


def test_like_wildcards_in_filters_are_literal(tmp_path: Path):
    from pisteur.indexer import index_paths
    from pisteur.serve.models import SearchFilters
    from pisteur.serve.service import Service

    from .conftest import MODEL, write_session

    root = tmp_path / "projects"
    for name, cwd in (("a", "/home/u/app_web"), ("b", "/home/u/appXweb"), ("c", "/home/u/100%done")):
        write_session(root / name / f"{name}.jsonl", [("user", "corriger la migration de la base"),
                                                      ("assistant", "la migration est corrigée")])
        p = root / name / f"{name}.jsonl"
        p.write_text(p.read_text().replace("/home/u/proj", cwd).replace("sess-1", f"sess-{name}"))
    idx = tmp_path / "idx"
    index_paths(idx, [root], model=MODEL)
    svc = Service(idx)
    try:
        def projects(**f) -> set[str]:
            r = svc.search("migration de la base", 20, SearchFilters(**f))
            return {h.project for h in r.hits}

        assert projects() == {"/home/u/app_web", "/home/u/appXweb", "/home/u/100%done"}
        assert projects(project="%") == {"/home/u/100%done"}
        assert projects(project="app_web") == {"/home/u/app_web"}
        assert projects(project="_") == {"/home/u/app_web"}
        assert projects(session="%") == set() and projects(session="sess-_") == set()
        assert projects(source="%") == set()
    finally:
        svc.close()


def test_mcp_session_delete_is_not_refused_as_non_json(service):
    pytest.importorskip("mcp")
    with TestClient(base_url=LOCAL, app=create_app(service, rate=0)) as c:
        r = c.delete("/mcp", headers={"mcp-session-id": "nope"})
        assert r.status_code not in (403, 415), r.text  # the SDK answers it (unknown session)
        r = c.delete("/mcp", headers={"origin": "https://evil.example"})
        assert r.status_code == 403
