"""The audit log: hash chain, tamper detection (edited, deleted, inserted, reordered lines), concurrent
writers, and the CLI / MCP front ends writing to it."""

from __future__ import annotations

import json
import multiprocessing
import stat
import threading
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from pisteur.serve.audit import GENESIS, AuditLog, from_setting, records, verify


def _log(tmp_path: Path, n: int = 5) -> Path:
    path = tmp_path / "audit" / "audit.jsonl"
    log = AuditLog(path)
    for i in range(n):
        if i % 2:
            log.read("http", i, f"/src/{i}.md")
        else:
            log.search("cli", f"requête {i}", 10, {"project": "p", "kind": None}, [i, i + 1])
    return path


def test_chain_and_fields(tmp_path: Path):
    path = _log(tmp_path)
    recs = list(records(path))
    assert [r["seq"] for r in recs] == [0, 1, 2, 3, 4] and recs[0]["prev"] == GENESIS
    assert recs[0]["event"] == "search" and recs[0]["query"] == "requête 0" and recs[0]["hits"] == 2
    assert recs[0]["filters"] == {"project": "p"} and recs[0]["user"] and recs[0]["via"] == "cli"
    assert recs[1]["event"] == "read" and recs[1]["id"] == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    v = verify(path)
    assert v.ok and v.records == 5 and len(v.head) == 64


def _tamper(path: Path, how: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if how == "edit":
        lines[2] = lines[2].replace("requête 2", "requête X")
    elif how == "edit-and-rehash":  # the editor recomputes the record's own hash: the next line catches it
        import hashlib

        rec = json.loads(lines[2])
        rec["query"] = "requête X"
        rec.pop("hash")
        canon = json.dumps(rec, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        rec["hash"] = hashlib.sha256(canon.encode()).hexdigest()
        lines[2] = json.dumps(rec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    elif how == "delete":
        del lines[2]
    elif how == "reorder":
        lines[2], lines[3] = lines[3], lines[2]
    elif how == "insert":
        lines.insert(2, lines[1])
    elif how == "garbage":
        lines[2] = "not json\n"
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.parametrize("how,bad", [("edit", 3), ("edit-and-rehash", 4), ("delete", 3), ("reorder", 3),
                                     ("insert", 3), ("garbage", 3)])
def test_verify_names_the_first_bad_line(tmp_path: Path, how: str, bad: int):
    path = _log(tmp_path)
    _tamper(path, how)
    v = verify(path)
    assert not v.ok and v.bad_line == bad and v.records == bad - 1, v


def test_concurrent_writers_keep_the_chain(tmp_path: Path):
    path = tmp_path / "a.jsonl"

    def threads() -> None:
        log = AuditLog(path)
        for i in range(20):
            log.search("http", f"t{i}", 5, {}, [])

    ts = [threading.Thread(target=threads) for _ in range(3)]
    procs = [multiprocessing.get_context("fork").Process(target=threads) for _ in range(2)]
    for t in [*ts, *procs]:
        t.start()
    for t in ts:
        t.join()
    for p in procs:
        p.join(60)
    v = verify(path)
    assert v.ok and v.records == 100


def test_off_by_default(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("PISTEUR_AUDIT", raising=False)
    assert from_setting(None) is None
    monkeypatch.setenv("PISTEUR_AUDIT", str(tmp_path / "x.jsonl"))
    assert from_setting(None).path == tmp_path / "x.jsonl"


def test_cli_search_and_audit_commands(docs_index: Path, tmp_path: Path, monkeypatch):
    from pisteur.cli import app

    log = tmp_path / "audit.jsonl"
    runner = CliRunner()
    monkeypatch.delenv("PISTEUR_AUDIT", raising=False)
    res = runner.invoke(app, ["search", "farine de seigle", "--index", str(docs_index), "--json"])
    assert res.exit_code == 0 and not log.exists()  # off by default
    res = runner.invoke(app, ["search", "farine de seigle", "-k", "3", "--kind", "document", "--index",
                              str(docs_index), "--json", "--audit", str(log)])
    assert res.exit_code == 0, res.output
    ids = [json.loads(ln)["id"] for ln in res.stdout.splitlines() if ln.strip()]
    monkeypatch.setenv("PISTEUR_AUDIT", str(log))
    assert runner.invoke(app, ["search", "boulangerie", "--index", str(docs_index), "--json"]).exit_code == 0
    rec = next(records(log))
    assert rec["via"] == "cli" and rec["query"] == "farine de seigle" and rec["k"] == 3
    assert rec["filters"] == {"kind": ["document"]} and rec["ids"] == ids and rec["hits"] == len(ids)
    shown = runner.invoke(app, ["audit", "show"])
    assert shown.exit_code == 0 and '"farine de seigle"' in shown.output and "kind=['document']" in shown.output
    assert len(shown.output.strip().splitlines()) == 2
    ok = runner.invoke(app, ["audit", "verify", str(log)])
    assert ok.exit_code == 0 and ok.output.startswith("ok: 2 records")
    log.write_text(log.read_text().replace("farine", "avoine"))
    bad = runner.invoke(app, ["audit", "verify", str(log)])
    assert bad.exit_code == 1 and "line 1" in bad.output and "edited" in bad.output
    missing = runner.invoke(app, ["audit", "verify", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2 and missing.output.startswith("error: no audit log at")


def test_cli_search_refuses_a_huge_query(docs_index: Path):
    from pisteur.cli import app

    res = CliRunner().invoke(app, ["search", "x" * 10_000, "--index", str(docs_index)])
    assert res.exit_code != 0 and "query too long" in res.output and "Traceback" not in res.output


def test_mcp_searches_and_reads_are_audited(docs_index: Path, tmp_path: Path):
    pytest.importorskip("mcp")
    from mcp import Client

    from pisteur.serve.mcp_server import build_server
    from pisteur.serve.service import Service

    log = tmp_path / "audit.jsonl"
    svc = Service(docs_index, audit=AuditLog(log))

    async def go():
        async with Client(build_server(svc)) as c:
            r = await c.call_tool("search", {"query": "rendez-vous devant la gare", "k": 2})
            hid = r.structured_content["hits"][0]["id"]
            await c.call_tool("read", {"id": hid})
            return hid

    try:
        hid = anyio.run(go)
    finally:
        svc.close()
    recs = list(records(log))
    assert [(r["event"], r["via"]) for r in recs] == [("search", "mcp"), ("read", "mcp")]
    assert recs[0]["ids"][0] == hid and recs[1]["id"] == hid and recs[1]["source"].endswith("rendez-vous.md")
    assert verify(log).ok


def test_unwritable_log_refuses_the_search(docs_index: Path, tmp_path: Path):
    from pisteur.cli import app

    blocked = tmp_path / "file"
    blocked.write_text("x")
    bad = blocked / "audit.jsonl"  # its parent is a file: cannot be created
    res = CliRunner().invoke(app, ["search", "farine", "--index", str(docs_index), "--json", "--audit", str(bad)])
    assert res.exit_code != 0 and "cannot write the audit log" in res.output and '"id"' not in res.output
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from pisteur.serve.http_api import create_app
    from pisteur.serve.service import Service

    with TestClient(create_app(Service(docs_index, audit=AuditLog(bad)), rate=0, mcp=False),
                    base_url="http://127.0.0.1:8765") as c:
        r = c.get("/api/search", params={"q": "farine"})
        assert r.status_code == 503 and "audit log" in r.json()["detail"]
