"""Commands ``pisteur mcp`` (MCP server on stdio or HTTP), ``pisteur mcp install`` and ``pisteur serve``
(HTTP API + web page + /metrics + MCP at /mcp). Registered on the root app by ``register(app)``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

IndexOpt = Annotated[Path | None, typer.Option("--index", "-i", help="Index directory (default: $PISTEUR_INDEX "
                                                "or the user data dir).", show_default=False)]
LiveOpt = Annotated[bool | None, typer.Option(
    "--live/--no-live", help="Keep the index fresh in the background (default: on when the index holds Claude "
    "Code sessions, or when --watch is given).", show_default=False)]
WatchOpt = Annotated[list[Path] | None, typer.Option(
    "--watch", "-w", help="Folder/file to keep indexed (repeatable; default: ~/.claude/projects).",
    show_default=False)]
IntervalOpt = Annotated[float, typer.Option(help="Seconds between checks for changed files.")]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", envvar="PISTEUR_TOKEN", help="Bearer token; required to listen on a non-loopback address. "
    "Prefer $PISTEUR_TOKEN or --token-file: a command-line argument is visible to every user in `ps`.",
    show_default=False)]
TokenFileOpt = Annotated[Path | None, typer.Option(
    "--token-file", help="Read the bearer token from this file (keep it private: chmod 600).",
    show_default=False)]
AuditOpt = Annotated[Path | None, typer.Option(
    "--audit", envvar="PISTEUR_AUDIT", help="Append every search and every hit opened to this tamper-evident "
    "audit log (JSON Lines, hash-chained; read it with `pisteur audit show|verify`).", show_default=False)]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Disable the semantic query cache.")]

mcp_app = typer.Typer(help="MCP server for Claude Code and other MCP clients.", invoke_without_command=True,
                      no_args_is_help=False)


def _fail(msg: str, code: int = 2) -> None:
    print(f"error: {msg}", file=sys.stderr)
    raise typer.Exit(code)


def _token(token: str | None, token_file: Path | None) -> str | None:
    """The bearer token from --token-file, else --token / $PISTEUR_TOKEN; one-line errors."""
    if token_file is None:
        if token and os.environ.get("PISTEUR_TOKEN") != token:
            print("warning: a token given with --token is visible to every user in `ps`; use --token-file or "
                  "$PISTEUR_TOKEN", file=sys.stderr)
        return token or None
    try:
        text = token_file.expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read the token file {token_file}: {getattr(exc, 'strerror', None) or exc}")
    if not text or len(text.splitlines()) != 1:
        _fail(f"the token file {token_file} must hold the token on one line")
    if token_file.expanduser().stat().st_mode & 0o077:
        print(f"warning: {token_file} can be read by other users (chmod 600 {token_file})", file=sys.stderr)
    return text


def _check_port(host: str, port: int) -> None:
    """A port out of range, or already taken: one line, before anything is printed or loaded."""
    import socket

    if not 1 <= port <= 65535:
        _fail(f"port must be between 1 and 65535 (got {port})")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        _fail(f"cannot resolve the address {host!r}: {exc.strerror or exc}")
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            s.bind(addr)
        except OSError as exc:
            why = "already in use (another server? pick another --port)" if exc.errno == 98 else exc.strerror
            _fail(f"cannot listen on {host}:{port}: {why}")


def _service(index: Path | None, live: bool | None, watch: list[Path] | None, interval: float, no_cache: bool,
             audit: Path | None = None):
    from pisteur.config import default_claude_projects, default_index_dir
    from pisteur.serve.audit import from_setting
    from pisteur.serve.service import Service

    idir = (index or default_index_dir()).expanduser()
    sources = [p.expanduser() for p in watch] if watch else None
    if live is None:
        if sources:
            live = True
        else:
            live = _holds_claude_sessions(idir, default_claude_projects())
    if live and sources is None:
        sources = [default_claude_projects()]
    return Service(idir, live=bool(live), sources=sources, live_interval=interval, cache=not no_cache,
                   audit=from_setting(audit))


def _holds_claude_sessions(index_dir: Path, projects: Path) -> bool:
    """Live indexing of ~/.claude/projects is on by default when the index is (or will be) about it."""
    db = index_dir / "index.sqlite"
    if not db.exists():
        return projects.exists()
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        row = con.execute("SELECT 1 FROM sources WHERE reader IN ('claude', 'claude-code') LIMIT 1").fetchone()
        con.close()
        return row is not None
    except sqlite3.Error:
        return False


@mcp_app.callback()
def mcp(
    ctx: typer.Context,
    index: IndexOpt = None,
    transport: Annotated[str, typer.Option("--transport", "-t", help="stdio or http (streamable HTTP at /mcp).")]
    = "stdio",
    host: Annotated[str, typer.Option(help="HTTP transport: address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP transport: port.")] = 8765,
    token: TokenOpt = None,
    token_file: TokenFileOpt = None,
    live: LiveOpt = None,
    watch: WatchOpt = None,
    interval: IntervalOpt = 2.0,
    no_cache: NoCacheOpt = False,
    audit: AuditOpt = None,
) -> None:
    """Run the MCP server (tools: search, read, status). Claude Code starts it over stdio; register it
    with `pisteur mcp install`."""
    if ctx.invoked_subcommand is not None:
        return
    if transport == "stdio":
        from pisteur.serve.mcp_stdio import run_stdio

        if sys.stdin.isatty():
            print("pisteur MCP server on stdio: waiting for an MCP client such as Claude Code (register it with "
                  "`pisteur mcp install`; Ctrl-C to quit)", file=sys.stderr)
        run_stdio(lambda: _service(index, live, watch, interval, no_cache, audit))
    elif transport in ("http", "streamable-http"):
        from pisteur.serve.http_api import create_app, serve

        token = _token(token, token_file)
        _check_port(host, port)
        try:
            app = create_app(_service(index, live, watch, interval, no_cache, audit), host=host, token=token,
                             web=False, mcp=True)
        except ValueError as exc:
            _fail(str(exc))
        print(f"pisteur MCP (streamable HTTP) on http://{host}:{port}/mcp", file=sys.stderr)
        serve(app, host, port)
    else:
        _fail(f"unknown transport {transport!r} (stdio or http)")


@mcp_app.command("install")
def mcp_install(
    index: IndexOpt = None,
    scope: Annotated[str, typer.Option(help="Claude Code scope: user, project or local.")] = "user",
    print_only: Annotated[bool, typer.Option("--print", help="Only print the commands and JSON.")] = False,
    write: Annotated[Path | None, typer.Option(
        "--write", help="Merge the mcpServers entry into this JSON config file (e.g. Claude Desktop's).",
        show_default=False)] = None,
    url: Annotated[str | None, typer.Option(
        "--url", help="Register a running streamable-HTTP server (e.g. http://127.0.0.1:8765/mcp) instead of "
        "stdio.", show_default=False)] = None,
    token: TokenOpt = None,
) -> None:
    """Register pisteur's MCP server with Claude Code (`claude mcp add`) and print the JSON for others."""
    from pisteur.serve.install import install

    env = None if index is not None else ({"PISTEUR_INDEX": os.environ["PISTEUR_INDEX"]}
                                          if os.environ.get("PISTEUR_INDEX") else None)
    raise typer.Exit(install(index=index, scope=scope, print_only=print_only, write=write, env=env,
                             echo=typer.echo, url=url, token=token))


def serve(
    index: IndexOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind (anything but loopback needs --token).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
    token: TokenOpt = None,
    token_file: TokenFileOpt = None,
    live: LiveOpt = None,
    watch: WatchOpt = None,
    interval: IntervalOpt = 2.0,
    no_cache: NoCacheOpt = False,
    audit: AuditOpt = None,
    no_mcp: Annotated[bool, typer.Option("--no-mcp", help="Don't serve MCP at /mcp.")] = False,
    rate: Annotated[float, typer.Option(help="Requests per second per client (0: no limit).")] = 20.0,
    burst: Annotated[int, typer.Option(help="Burst size of the per-client rate limit.")] = 40,
    max_body: Annotated[int, typer.Option(help="Largest request body accepted, in bytes.")] = 64 * 1024,
) -> None:
    """Web page, HTTP API (/api/search, /api/read, /api/status, /api/index; schema at /openapi.json),
    /metrics and MCP over streamable HTTP at /mcp, in one process."""
    token = _token(token, token_file)
    _check_port(host, port)
    from pisteur.serve.http_api import create_app
    from pisteur.serve.http_api import serve as run

    try:
        app = create_app(_service(index, live, watch, interval, no_cache, audit), host=host, token=token,
                         mcp=not no_mcp, rate=rate, burst=burst, max_body=max_body)
    except ValueError as exc:
        _fail(str(exc))
    shown = f"[{host}]" if ":" in host else host
    print(f"pisteur on http://{shown}:{port}/  (API: /openapi.json, metrics: /metrics"
          f"{'' if no_mcp else ', MCP: /mcp'})", file=sys.stderr)
    run(app, host, port)


def register(app: typer.Typer) -> None:
    app.add_typer(mcp_app, name="mcp")
    app.command("serve")(serve)
