"""``pisteur audit show|verify``: read and check the audit log written by ``--audit`` / ``$PISTEUR_AUDIT``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Read and verify the audit log (who searched what, when; which hits were opened).",
                  no_args_is_help=True)

LogArg = Annotated[Path | None, typer.Argument(
    help="Audit log file (default: $PISTEUR_AUDIT).", show_default=False, envvar="PISTEUR_AUDIT")]


def _log(path: Path | None) -> Path:
    if path is None:
        print("error: no audit log given (pass its path, or set PISTEUR_AUDIT)", file=sys.stderr)
        raise typer.Exit(2)
    path = path.expanduser()
    if not path.is_file():
        print(f"error: no audit log at {path}", file=sys.stderr)
        raise typer.Exit(2)
    return path


def _line(rec: dict[str, Any]) -> str:
    who = rec.get("user", "?") + (f"@{rec['client']}" if rec.get("client") else "")
    if rec.get("token"):
        who += f" [{rec['token']}]"
    head = f"{rec.get('seq', '?'):>5}  {rec.get('ts', '?')}  {who}  {rec.get('via', '?')}"
    if rec.get("event") == "search":
        filters = " ".join(f"{k}={v}" for k, v in (rec.get("filters") or {}).items())
        return f"{head}  search {json.dumps(rec.get('query', ''), ensure_ascii=False)}" \
               f"{'  ' + filters if filters else ''}  k={rec.get('k')} → {rec.get('hits', 0)} hits"
    if rec.get("event") == "read":
        return f"{head}  read #{rec.get('id')}  {rec.get('source', '')}"
    return f"{head}  {rec.get('event', '?')}"


@app.command("show")
def show(
    path: LogArg = None,
    last: Annotated[int | None, typer.Option("--last", "-n", help="Only the last N records.")] = None,
    event: Annotated[str | None, typer.Option(help="Only this event: search or read.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per line.")] = False,
) -> None:
    """Print the audit log, one event per line (oldest first)."""
    from pisteur.serve.audit import records

    recs = [r for r in records(_log(path)) if event is None or r.get("event") == event]
    for rec in recs[-last:] if last else recs:
        typer.echo(json.dumps(rec, ensure_ascii=False) if as_json else _line(rec))


@app.command("verify")
def verify(path: LogArg = None) -> None:
    """Check the hash chain: exit 0 if intact, else name the first bad line (exit 1).

    Detects an edited, deleted, inserted or moved line. Note the head hash it prints: a chain cannot show
    that its last lines were cut off."""
    from pisteur.serve.audit import verify as check

    log = _log(path)
    v = check(log)
    if v.ok:
        typer.echo(f"ok: {v.records} records, chain intact; head sha256 {v.head or '-'}")
        return
    print(f"error: {log} line {v.bad_line}: {v.reason} ({v.records} records before it are intact)",
          file=sys.stderr)
    raise typer.Exit(1)
