"""Hostile input to the MCP server: malformed lines, oversized messages and queries, out-of-range arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import anyio
import pytest

pytest.importorskip("mcp")

from pisteur.serve.limits import MAX_QUERY_CHARS  # noqa: E402
from pisteur.serve.mcp_stdio import TOO_LONG, LineReader  # noqa: E402

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}}


def _call(i: int, name: str, args: dict) -> dict:
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": args}}


def _exchange(index: Path, lines: list[str], want: set, env: dict | None = None) -> dict:
    """Send raw lines to `pisteur mcp` over stdio; the replies by id (None: errors without an id)."""
    tests = str(Path(__file__).parent.parent)  # helpers registers the test-only embedder
    code = f"import sys; sys.path.insert(0, {tests!r}); import helpers; from pisteur.cli import main; main()"
    cmd = [sys.executable, "-c", code, "mcp", "--index", str(index), "--no-live"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    replies: dict = {}
    done = threading.Event()

    def reader() -> None:
        for ln in proc.stdout:
            msg = json.loads(ln)
            replies.setdefault(msg.get("id"), []).append(msg)
            if want <= set(replies):
                done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        for ln in lines:
            proc.stdin.write(ln.encode() if isinstance(ln, str) else ln)
        proc.stdin.flush()
        done.wait(120)
        proc.stdin.close()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    t.join(10)
    assert want <= set(replies), (replies, proc.stderr.read()[-2000:])
    return replies


def test_malformed_lines_get_jsonrpc_errors(docs_index: Path):
    big = json.dumps(_call(9, "search", {"query": "x" * (2 * 1024 * 1024)}))
    lines = [json.dumps(INIT) + "\n", '{"jsonrpc":"2.0","method":"notifications/initialized"}\n',
             "this is not json\n", '{"id": 5, "foo": 1}\n', "[1, 2]\n", big + "\n",
             json.dumps(_call(6, "search", {"query": "pain", "k": 0})) + "\n",
             json.dumps(_call(7, "search", {"query": "q" * (MAX_QUERY_CHARS + 1)})) + "\n",
             json.dumps(_call(8, "read", {"id": 99999999999999999999})) + "\n",
             json.dumps(_call(10, "search", {"query": "farine de seigle", "k": 2})) + "\n"]
    r = _exchange(docs_index, lines, {1, 5, 6, 7, 8, 10, None})
    errors = r[None]
    codes = sorted(e["error"]["code"] for e in errors)
    assert codes == [-32700, -32600, -32600], errors  # not JSON; a list; a message over the size limit
    assert r[5][0]["error"]["code"] == -32600  # JSON but not JSON-RPC: the id is kept
    k0 = r[6][0]["result"]
    assert k0["isError"] and k0["content"][0]["text"].endswith("k must be between 1 and 50 (got 0)")
    assert "validation error" not in k0["content"][0]["text"]
    long_q = r[7][0]["result"]
    assert long_q["isError"] and "query too long" in long_q["content"][0]["text"]
    assert r[8][0]["result"]["isError"] and "no chunk with id" in r[8][0]["result"]["content"][0]["text"]
    ok = r[10][0]["result"]
    assert not ok.get("isError") and ok["structuredContent"]["hits"][0]["source"].endswith("boulangerie.md")


def test_line_reader_bounds_memory(tmp_path: Path):
    data = b'{"a":1}\n' + b"y" * 5000 + b"\n\n" + b'{"b":2}\n' + b"z" * 3000
    f = tmp_path / "in"
    f.write_bytes(data)
    fd = os.open(f, os.O_RDONLY)
    try:
        rd = LineReader(fd, max_bytes=1000, block=256)
        got = [rd.next_line() for _ in range(5)]
        assert max(len(rd.buf) for _ in [0]) <= 1000 + 256
    finally:
        os.close(fd)
    assert got == [b'{"a":1}', TOO_LONG, b"", b'{"b":2}', TOO_LONG]


def test_in_process_k0_and_huge_query_are_tool_errors(service):
    from mcp import Client

    from pisteur.serve.mcp_server import build_server

    srv = build_server(service)

    async def go():
        async with Client(srv) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            props = tools["search"].input_schema["properties"]
            assert props["k"]["minimum"] == 1 and props["query"]["maxLength"] == MAX_QUERY_CHARS
            r = await c.call_tool("search", {"query": "pain", "k": 0})
            assert r.is_error and r.content[0].text.endswith("k must be between 1 and 50 (got 0)")
            r = await c.call_tool("search", {"query": "x" * (10 * 1024 * 1024)})
            assert r.is_error and "query too long" in r.content[0].text
            r = await c.call_tool("read", {"id": 1, "before": 99})
            assert r.is_error and "before must be between 0 and 20" in r.content[0].text

    anyio.run(go)
    assert service.metrics.searches() == 0
