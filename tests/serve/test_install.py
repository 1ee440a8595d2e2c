from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pisteur.serve.install import install, merge_config


def test_print_only(tmp_path: Path):
    out: list[str] = []
    code = install(index=tmp_path / "idx", print_only=True, echo=out.append, claude="/nonexistent/claude")
    text = "\n".join(out)
    assert code == 0
    assert f"claude mcp add --scope user pisteur -- {sys.executable} -m pisteur.cli mcp --index" in text
    snippet = json.loads(text[text.index("{"):])
    entry = snippet["mcpServers"]["pisteur"]
    assert entry["command"] == sys.executable and entry["args"][:3] == ["-m", "pisteur.cli", "mcp"]


def test_runs_claude_when_on_path(tmp_path: Path, monkeypatch):
    log = tmp_path / "args.txt"
    fake = tmp_path / "bin" / "claude"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {log}\necho 'Added stdio MCP server pisteur'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    cfg = tmp_path / "desktop.json"
    cfg.write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}, "theme": "dark"}))
    from pisteur.cli import app

    res = CliRunner().invoke(app, ["mcp", "install", "--scope", "project", "--write", str(cfg)])
    assert res.exit_code == 0, res.output
    args = log.read_text().split()
    # PISTEUR_INDEX (set by the test conftest) is carried into the server's environment
    assert args[:7] == ["mcp", "add", "--scope", "project", "-e", f"PISTEUR_INDEX={os.environ['PISTEUR_INDEX']}",
                        "pisteur"]
    assert args[7:] == ["--", sys.executable, "-m", "pisteur.cli", "mcp"]
    assert "Added stdio MCP server" in res.output
    data = json.loads(cfg.read_text())
    assert set(data["mcpServers"]) == {"other", "pisteur"} and data["theme"] == "dark"


def test_print_flag_never_runs_claude(tmp_path: Path, monkeypatch):
    fake = tmp_path / "claude"
    fake.write_text(f"#!/bin/sh\ntouch {tmp_path}/ran\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    from pisteur.cli import app

    res = CliRunner().invoke(app, ["mcp", "install", "--print"])
    assert res.exit_code == 0 and "claude mcp add" in res.output and not (tmp_path / "ran").exists()


def test_merge_config_creates_file(tmp_path: Path):
    p = tmp_path / "sub" / "mcp.json"
    merge_config(p, {"mcpServers": {"pisteur": {"command": "py", "args": []}}})
    assert json.loads(p.read_text())["mcpServers"]["pisteur"]["command"] == "py"


def test_serve_refuses_public_bind_without_token():
    pytest.importorskip("fastapi", reason="`pisteur serve` needs the serve extra")
    from pisteur.cli import app

    res = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--no-live"], env={"PISTEUR_TOKEN": ""})
    assert res.exit_code == 2


def test_url_registers_http_transport(tmp_path: Path):
    out: list[str] = []
    install(print_only=True, echo=out.append, url="http://127.0.0.1:8765/mcp", token="t0k")
    text = "\n".join(out)
    assert ("claude mcp add --scope user --transport http --header 'Authorization: Bearer t0k' pisteur "
            "http://127.0.0.1:8765/mcp") in text
    entry = json.loads(text[text.index("{"):])["mcpServers"]["pisteur"]
    assert entry == {"type": "http", "url": "http://127.0.0.1:8765/mcp", "headers": {"Authorization": "Bearer t0k"}}
