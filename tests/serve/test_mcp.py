"""The MCP server through the SDK's client: in process, over stdio (a subprocess, raw JSON-RPC and the
SDK client) and over streamable HTTP (uvicorn on a free port)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import pytest

pytest.importorskip("mcp")

from .conftest import DOCS  # noqa: E402

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def _structured(result) -> dict:
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None
    # the same JSON also goes out as text content, for clients without structured output
    assert json.loads(result.content[0].text) == data
    return data


def test_tools_in_process(service):
    from mcp import Client

    from pisteur.serve.mcp_server import build_server

    srv = build_server(service)

    async def go():
        async with Client(srv) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert set(tools) == {"search", "read", "status"}
            assert all(t.annotations and t.annotations.read_only_hint for t in tools.values())
            assert tools["search"].output_schema and "hits" in tools["search"].output_schema["properties"]
            assert {"query", "k", "project", "session", "date_from", "date_to", "kind"} <= set(
                tools["search"].input_schema["properties"])
            r = _structured(await c.call_tool("search", {"query": "rendez-vous devant la gare", "k": 3}))
            assert r["origin"] == "pisteur" and r["hits"][0]["source"].endswith("rendez-vous.md")
            hit = r["hits"][0]
            assert {"id", "score", "kind", "snippet", "session_id", "ts", "lines", "source"} <= set(hit)
            assert hit["explain"] is None and "highlights" not in hit  # compact by default
            ex = _structured(await c.call_tool("search", {"query": "rendez-vous devant la gare", "explain": True}))
            assert ex["hits"][0]["explain"] and ex["expansions"]
            rd = _structured(await c.call_tool("read", {"id": hit["id"], "after": 1}))
            assert rd["passages"][0]["is_hit"] and "gare" in rd["passages"][0]["text"]
            st = _structured(await c.call_tool("status", {}))
            assert st["ready"] and st["chunks"] == 4
            bad = await c.call_tool("read", {"id": 999999})
            assert bad.is_error and "no chunk" in bad.content[0].text
            filt = _structured(await c.call_tool("search", {"query": "gare", "kind": ["exchange"]}))
            assert filt["hits"] == []

    anyio.run(go)


@pytest.fixture
def noisy_index(tmp_path: Path) -> Path:
    sys.path.insert(0, str(HERE))
    import noisy  # noqa: F401

    from pisteur.indexer import index_paths

    src = tmp_path / "docs"
    shutil.copytree(DOCS, src)
    idx = tmp_path / "noisy-index"
    index_paths(idx, [src], model="test-noisy:x")
    return idx


def _server_cmd(index: Path) -> list[str]:
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import noisy; "
            "from pisteur.cli import main; main()")
    return [sys.executable, "-c", code, "mcp", "--index", str(index), "--no-live"]


@pytest.mark.slow  # more than ~5 s on a 2-core machine
def test_stdio_stdout_is_protocol_only(noisy_index: Path):
    """A full initialize + tools/call over a real subprocess: every stdout line is JSON-RPC, even though
    the model prints to stdout and writes to fd 1 on load and on each query."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_server_cmd(noisy_index), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True, encoding="utf-8")
    msgs = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "search", "arguments": {"query": "garde à vue avocat", "k": 2}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "status", "arguments": {}}},
    ]
    lines_out: list[str] = []
    got = threading.Event()
    seen: set = set()

    def reader() -> None:
        for ln in proc.stdout:
            lines_out.append(ln)
            try:
                seen.add(json.loads(ln).get("id"))
            except ValueError:
                pass
            if {3, 4} <= seen:
                got.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in msgs))
        proc.stdin.flush()
        got.wait(120)
        proc.stdin.close()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    t.join(10)
    out, err = "".join(lines_out), proc.stderr.read()
    lines = [ln for ln in out.splitlines() if ln.strip()]
    replies = {}
    for ln in lines:
        msg = json.loads(ln)  # raises on any non-JSON line
        assert msg.get("jsonrpc") == "2.0", ln
        if "id" in msg:
            replies[msg["id"]] = msg
    assert set(replies) >= {1, 2, 3, 4}, (out, err[-2000:])
    res = replies[3]["result"]
    assert not res.get("isError"), res
    assert res["structuredContent"]["hits"][0]["source"].endswith("garde-a-vue.md")
    assert "noise" in err  # the prints went somewhere: stderr


def test_stdio_sdk_client(noisy_index: Path):
    from mcp import Client, StdioServerParameters

    cmd = _server_cmd(noisy_index)
    params = StdioServerParameters(command=cmd[0], args=cmd[1:], env=dict(os.environ))

    async def go():
        async with Client(params) as c:
            r = _structured(await c.call_tool("search", {"query": "recette pain levain", "k": 1}))
            assert r["hits"][0]["source"].endswith("boulangerie.md")
            r2 = _structured(await c.call_tool("search", {"query": "recette pain levain", "k": 1}))
            assert r2["cached"]  # the server process stays up: model, store and cache are reused

    anyio.run(go)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UvicornThread:
    def __init__(self, app, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        t0 = time.monotonic()
        while not self.server.started:
            if time.monotonic() - t0 > 30:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def test_streamable_http(service):
    from mcp import Client

    from pisteur.serve.http_api import create_app

    port = _free_port()
    with UvicornThread(create_app(service, web=False), port):
        async def go():
            async with Client(f"http://127.0.0.1:{port}/mcp") as c:
                r = _structured(await c.call_tool("search", {"query": "migration base de données UTC", "k": 2}))
                assert r["hits"][0]["source"].endswith("migration.md")
                st = _structured(await c.call_tool("status", {}))
                assert st["searches"] >= 1

        anyio.run(go)
    assert "via=\"mcp\"" in service.prometheus()


def test_streamable_http_audit_names_the_client(docs_index: Path, tmp_path: Path):
    from mcp import Client

    from pisteur.serve.audit import AuditLog, records
    from pisteur.serve.http_api import create_app
    from pisteur.serve.service import Service

    log = tmp_path / "audit.jsonl"
    svc = Service(docs_index, audit=AuditLog(log))
    port = _free_port()
    with UvicornThread(create_app(svc, web=False), port):
        async def go():
            async with Client(f"http://127.0.0.1:{port}/mcp") as c:
                r = _structured(await c.call_tool("search", {"query": "farine de seigle", "k": 2}))
                await c.call_tool("read", {"id": r["hits"][0]["id"]})

        anyio.run(go)
    recs = list(records(log))
    assert [(r["event"], r["via"]) for r in recs] == [("search", "mcp"), ("read", "mcp")]
    assert all(r.get("client") == "127.0.0.1" for r in recs), recs
