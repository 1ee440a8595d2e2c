"""``pisteur read ID``: a hit in context, in the terminal (the same reading as the MCP ``read`` tool)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from pisteur.cli.core import IndexOpt, _fail, _index_dir


def read(
    chunk_id: Annotated[int, typer.Argument(metavar="ID", help="A hit id, as printed by `pisteur search`.")],
    before: Annotated[int, typer.Option(
        "--before", "-b", metavar="N", help="Turns (or passages) to show before the hit.")] = 1,
    after: Annotated[int, typer.Option(
        "--after", "-a", metavar="N", help="Turns (or passages) to show after the hit.")] = 1,
    page: Annotated[int, typer.Option(metavar="N", help="Page to show (long context is paginated).")] = 1,
    page_chars: Annotated[int, typer.Option(metavar="N", help="Characters per page.")] = 8000,
    index_dir: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: passages, page, pages, tool call.")]
    = False,
) -> None:
    """Read a hit in context: the turns around it (passages in a document), the tool call behind a tool output."""
    from pisteur.context import session_title, tool_call
    from pisteur.serve.service import NoIndex, NotFound, Service

    for name, n in (("--before", before), ("--after", after)):
        if not 0 <= n <= 50:
            _fail(f"{name} {n}: give a number of turns from 0 to 50", 2)
    if page < 1:
        _fail(f"--page {page}: pages are numbered from 1", 2)
    svc = Service(_index_dir(index_dir), cache=False)
    try:
        resp = svc.read(chunk_id, before=before, after=after, page=0, page_chars=page_chars)
        if page > resp.pages:
            _fail(f"--page {page}: this context has {resp.pages} page(s)", 2)
        if page > 1:
            resp = svc.read(chunk_id, before=before, after=after, page=page - 1, page_chars=page_chars)
        store = svc.store()
        hit = store.get([chunk_id])[0]
        call, title = tool_call(store, hit), session_title(store, hit)
    except (NotFound, NoIndex) as exc:
        _fail(str(exc.args[0]) if exc.args else str(exc))
    finally:
        svc.close()
    if as_json:
        out = resp.model_dump(mode="json")
        out.update(page=page, tool_call=call, title=title)
        print(json.dumps(out, ensure_ascii=False))
        return
    print_context(resp, page, call, title)


def _where(p: Any) -> str:
    bits = [p.kind]
    if p.ts_first:
        bits.append(str(p.ts_first)[:16].replace("T", " "))
    if p.line_start:
        if p.line_end and p.line_end != p.line_start:
            bits.append(f"lines {p.line_start}-{p.line_end}")
        else:
            bits.append(f"line {p.line_start}")
    for key in ("page", "sender"):
        if p.meta.get(key):
            bits.append(f"{key} {p.meta[key]}")
    return " · ".join(bits)


def print_context(resp: Any, page: int, call: str | None, title: str | None) -> None:
    from rich.markup import escape
    from rich.padding import Padding
    from rich.text import Text

    from pisteur.cli.render import console

    head = Path(resp.source).name + (f" · {title}" if title else "")
    console.print(f"[bold]{escape(head)}[/]", highlight=False)
    console.print(f"[dim]{escape(resp.source)}[/]", highlight=False)
    for p in resp.passages:
        mark = "[bold yellow]▶[/]" if p.is_hit else " "
        extra = f"  [dim]call:[/] {escape(call)}" if p.is_hit and call else ""
        console.print(f"{mark} [magenta]{escape(_where(p))}[/]{extra}", highlight=False)
        body = Text(p.text.rstrip() + (" …" if p.truncated else ""), style="" if p.is_hit else "dim")
        console.print(Padding(body, (0, 0, 1, 4)))
    if resp.pages > 1:
        nxt = f" · next: pisteur read {resp.id} --page {page + 1}" if resp.has_more else ""
        console.print(f"[dim]page {page}/{resp.pages}{nxt}[/]", highlight=False)
