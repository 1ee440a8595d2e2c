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
    # the name comes before -e: `-e` takes several values and would swallow it (Claude Code's CLI grammar)
    assert args[:7] == ["mcp", "add", "--scope", "project", "pisteur", "-e",
                        f"PISTEUR_INDEX={os.environ['PISTEUR_INDEX']}"]
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
    assert ("claude mcp add --scope user --transport http pisteur http://127.0.0.1:8765/mcp "
            "--header 'Authorization: Bearer ***'") in text
    assert "t0k" not in text  # the token is never printed
    entry = json.loads(text[text.index("{"):text.rindex("}") + 1])["mcpServers"]["pisteur"]
    assert entry == {"type": "http", "url": "http://127.0.0.1:8765/mcp", "headers": {"Authorization": "Bearer ***"}}


def test_write_keeps_a_private_file_private_and_never_prints_the_token(tmp_path: Path):
    cfg = tmp_path / "claude_desktop_config.json"
    cfg.write_text(json.dumps({"mcpServers": {"other": {"command": "x", "env": {"KEY": "secret"}}}}))
    cfg.chmod(0o600)
    out: list[str] = []
    code = install(echo=out.append, claude="/nonexistent/claude", write=cfg, url="http://127.0.0.1:8765/mcp",
                   token="very-secret-token")
    assert code == 0
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert "very-secret-token" not in "\n".join(out)
    data = json.loads(cfg.read_text())
    assert data["mcpServers"]["pisteur"]["headers"] == {"Authorization": "Bearer very-secret-token"}
    assert data["mcpServers"]["other"]["env"] == {"KEY": "secret"}
    fresh = tmp_path / "new.json"
    install(echo=out.append, claude="/nonexistent/claude", write=fresh, url="http://h/mcp", token="t")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600  # a new file holding a token is private
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_scope_is_one_line_error():
    from pisteur.cli import app

    res = CliRunner().invoke(app, ["mcp", "install", "--scope", "foo", "--print"])
    assert res.exit_code == 2
    assert res.output.strip() == "error: unknown scope 'foo' (user, project or local)"


def _claude_bin() -> str | None:
    import shutil

    return os.environ.get("PISTEUR_CLAUDE_BIN") or shutil.which("claude")


@pytest.mark.skipif(_claude_bin() is None,
                    reason="Claude Code's CLI is not installed (npm i -g @anthropic-ai/claude-code)")
@pytest.mark.parametrize("form", ["stdio-env", "stdio-index", "url-token"])
def test_real_claude_cli_accepts_every_form(tmp_path: Path, monkeypatch, form: str):
    """The commands are run by the real `claude` CLI, with HOME in a temp dir (its user config lands there)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path))
    out: list[str] = []
    kw: dict = {}
    if form == "stdio-env":
        kw["env"] = {"PISTEUR_INDEX": str(tmp_path / "idx")}
    elif form == "stdio-index":
        kw["index"] = tmp_path / "idx"
    else:
        kw.update(url="http://127.0.0.1:8765/mcp", token="tok-123")
    code = install(echo=out.append, claude=_claude_bin(), **kw)
    assert code == 0, out
    assert "tok-123" not in "\n".join(out)
    entry = json.loads((tmp_path / ".claude.json").read_text())["mcpServers"]["pisteur"]
    if form == "url-token":
        assert entry["url"] == "http://127.0.0.1:8765/mcp" and entry["headers"]["Authorization"] == "Bearer tok-123"
    else:
        assert entry["command"] == sys.executable and entry["args"][:3] == ["-m", "pisteur.cli", "mcp"]
        if form == "stdio-env":
            assert entry["env"] == {"PISTEUR_INDEX": str(tmp_path / "idx")}
        else:
            assert entry["args"][3:] == ["--index", str((tmp_path / "idx").resolve())]
