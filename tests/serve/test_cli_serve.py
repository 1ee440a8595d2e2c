"""`pisteur serve` / `pisteur mcp` start-up mistakes: one line each, nothing printed before the check."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("fastapi")


def _run(*args: str, env: dict | None = None):
    from pisteur.cli import app

    return CliRunner().invoke(app, list(args), env=env)


def _one_line_error(res, *words: str) -> None:
    out = res.output.strip()
    assert res.exit_code == 2, out
    assert len(out.splitlines()) == 1 and out.startswith("error: ") and "Traceback" not in out, out
    for w in words:
        assert w in out, out


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_port_out_of_range(port: str):
    _one_line_error(_run("serve", "--no-live", "--port", port), "port must be between 1 and 65535")


def test_busy_port_refused_before_the_url_is_printed():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = _run("serve", "--no-live", "--port", str(port))
        _one_line_error(res, "already in use", str(port))
        assert "http://" not in res.output
        _one_line_error(_run("mcp", "--transport", "http", "--no-live", "--port", str(port)), "already in use")


def test_token_file(tmp_path: Path):
    missing = tmp_path / "nope"
    _one_line_error(_run("serve", "--no-live", "--host", "0.0.0.0", "--token-file", str(missing)), "token file")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    _one_line_error(_run("serve", "--no-live", "--token-file", str(empty)), "one line")


def test_token_file_is_used(tmp_path: Path, monkeypatch):
    from pisteur.cli import serve as cli_serve

    tok = tmp_path / "token"
    tok.write_text("from-the-file\n")
    tok.chmod(0o600)
    assert cli_serve._token(None, tok) == "from-the-file"
    monkeypatch.setenv("PISTEUR_TOKEN", "from-env")
    assert cli_serve._token("from-env", None) == "from-env"


def test_mcp_in_a_terminal_prints_a_hint(docs_index: Path):
    import pty
    import select

    tests = str(Path(__file__).parent.parent)
    code = f"import sys; sys.path.insert(0, {tests!r}); import helpers; from pisteur.cli import main; main()"
    main_fd, sub_fd = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", code, "mcp", "--index", str(docs_index), "--no-live"],
                            stdin=sub_fd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(sub_fd)
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready
        line = proc.stderr.readline().decode()
        assert "waiting for an MCP client" in line and "pisteur mcp install" in line
    finally:
        proc.kill()
        proc.wait(10)
        os.close(main_fd)
