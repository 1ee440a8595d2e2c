"""``pisteur mcp install``: register the stdio MCP server with Claude Code and other MCP clients.

Claude Code: runs ``claude mcp add --scope <scope> pisteur [-e K=V] -- <python> -m pisteur.cli mcp [...]``
when the ``claude`` command is on PATH (else prints it); with ``--url``, ``claude mcp add --scope <scope>
--transport http pisteur URL [--header ...]`` for a server already running over streamable HTTP. Other
clients (Claude Desktop, Cursor, ...): the ``mcpServers`` JSON snippet, printed, and merged into a config file
with ``--write FILE`` (the file keeps its permissions; a new one holding a token is created 0600).

Argument order: in Claude Code's CLI (2.1.x, commander.js) ``-e/--env`` and ``-H/--header`` take several
values, so they must come *after* the server name (and the URL), never between ``add`` and the name, where
they would swallow it. A token is never printed: the commands and JSON shown carry ``***`` in its place.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

SERVER_NAME = "pisteur"
SCOPES = ("user", "project", "local")
MASK = "***"


def server_command(index: Path | None = None, extra: list[str] | None = None,
                   python: str | None = None) -> list[str]:
    cmd = [python or sys.executable, "-m", "pisteur.cli", "mcp"]
    if index is not None:
        cmd += ["--index", str(Path(index).expanduser().resolve())]
    return cmd + list(extra or [])


def claude_command(cmd: list[str], scope: str = "user", env: dict[str, str] | None = None,
                   url: str | None = None, token: str | None = None) -> list[str]:
    out = ["claude", "mcp", "add", "--scope", scope]
    if url:  # a running `pisteur serve` / `pisteur mcp --transport http`
        out += ["--transport", "http", SERVER_NAME, url]
        if token:
            out += ["--header", f"Authorization: Bearer {token}"]
        return out
    out.append(SERVER_NAME)
    for k, v in (env or {}).items():
        out += ["-e", f"{k}={v}"]
    return out + ["--", *cmd]


def masked(text: str, token: str | None) -> str:
    return text.replace(token, MASK) if token else text


def json_snippet(cmd: list[str], env: dict[str, str] | None = None, url: str | None = None,
                 token: str | None = None) -> dict[str, Any]:
    if url:
        entry: dict[str, Any] = {"type": "http", "url": url}
        if token:
            entry["headers"] = {"Authorization": f"Bearer {token}"}
        return {"mcpServers": {SERVER_NAME: entry}}
    entry = {"command": cmd[0], "args": cmd[1:]}
    if env:
        entry["env"] = dict(env)
    return {"mcpServers": {SERVER_NAME: entry}}


def merge_config(path: Path, snippet: dict[str, Any]) -> None:
    """Add/replace the pisteur entry of ``mcpServers`` in a JSON config file, keeping everything else."""
    path = Path(path).expanduser()
    data: dict[str, Any] = {}
    if path.exists() and path.read_text(encoding="utf-8").strip():
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path} does not hold a JSON object")
    data.setdefault("mcpServers", {}).update(snippet["mcpServers"])
    path.parent.mkdir(parents=True, exist_ok=True)
    # keep the file's permissions (a 0600 config stays 0600); a new file holding a secret is private
    mode = path.stat().st_mode & 0o7777 if path.exists() else (0o600 if _holds_secret(snippet) else 0o644)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        os.chmod(tmp, mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _holds_secret(snippet: dict[str, Any]) -> bool:
    entry = snippet["mcpServers"][SERVER_NAME]
    return bool(entry.get("headers") or entry.get("env"))


def install(
    *,
    index: Path | None = None,
    scope: str = "user",
    print_only: bool = False,
    write: Path | None = None,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    echo: Any = print,
    claude: str | None = None,
    url: str | None = None,
    token: str | None = None,
) -> int:
    """Returns a process exit code. With ``url``, registers a running HTTP server instead of stdio."""
    if scope not in SCOPES:
        echo(f"error: unknown scope {scope!r} (user, project or local)")
        return 2
    cmd = server_command(index, extra)
    add = claude_command(cmd, scope, env, url, token)
    snippet = json_snippet(cmd, env, url, token)
    claude_bin = shutil.which(claude or "claude")
    code = 0
    if print_only or claude_bin is None:
        if not print_only:
            echo("`claude` is not on PATH: run this to register pisteur with Claude Code:")
        echo("  " + masked(shlex.join(add), token))
        if token:
            echo(f"  (replace {MASK} with your token)")
    else:
        echo("$ " + masked(shlex.join(add), token))
        proc = subprocess.run([claude_bin, *add[1:]], capture_output=True, text=True)
        out = masked((proc.stdout + proc.stderr).strip(), token)
        if out:
            echo(out)
        if proc.returncode != 0:
            echo(f"claude mcp add failed (exit {proc.returncode}); if pisteur is already registered: "
                 f"claude mcp remove {SERVER_NAME} --scope {scope}")
            code = proc.returncode
    echo("\nFor other MCP clients (Claude Desktop, Cursor, ...), add to their mcpServers config:")
    echo(masked(json.dumps(snippet, indent=2, ensure_ascii=False), token))
    if write is not None and not print_only:
        merge_config(write, snippet)
        echo(f"\nwrote the pisteur entry into {write}")
    return code
