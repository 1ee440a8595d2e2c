"""Human-readable output (Rich)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

console = Console()


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def print_index_report(r: Any, index_dir: Path) -> None:
    console.print(
        f"[bold]{index_dir}[/]: {r.added} new, {r.updated} changed, {r.appended} appended, {r.deleted} removed, "
        f"{r.unchanged} unchanged; {r.chunks_embedded} chunks embedded in {r.seconds:.1f} s"
    )
    if r.skipped_lines:
        console.print(f"[yellow]{r.skipped_lines} malformed line(s) skipped[/]")
    if r.skipped:
        console.print(f"[yellow]{len(r.skipped)} file(s) skipped:[/]")
        for path, reason in r.skipped:
            console.print(f"  [yellow]-[/] {escape(path)}: {escape(reason)}", highlight=False)


def _where(h: Any) -> str:
    m = h.meta
    bits = []
    if m.get("project"):
        bits.append(Path(m["project"]).name)
    if m.get("session_id"):
        bits.append(f"session {m['session_id'][:8]}")
    if m.get("agent_id"):
        bits.append(f"agent {m['agent_id']}")
    if m.get("ts_first"):
        bits.append(str(m["ts_first"])[:16].replace("T", " "))
    if m.get("page"):
        bits.append(f"p. {m['page']}")
    if m.get("sender"):
        bits.append(f"de {m['sender']}")
    loc = Path(h.source).name
    if m.get("line_start"):
        loc += f":{m['line_start']}"
    bits.append(loc)
    return " · ".join(bits)


def _hit_row(rank: int, h: Any) -> tuple[Text, Text]:
    title = h.meta.get("title")
    head = Text.assemble((f"{rank}.", "bold cyan"))
    body = Text.assemble((f"{h.score:.3f}", "green"), " ", (h.kind, "magenta"), " ", (f"#{h.id}", "dim"), "  ")
    if title:
        body.append(title + " ", style="bold")
    body.append(_where(h), style="dim")
    return head, body


STAGE_LABELS = {"dense": "dense", "dense_expanded": "dense+exp", "lexical": "bm25", "expansion": "bm25 expansions"}


def explain_lines(explain: dict[str, Any]) -> list[str]:
    """A hit's ``explain`` as plain lines: the rank it had in each first-stage list (score in brackets),
    its fused rank, the second stage's rank and score, and the expansions found in it."""
    ranks = [
        f"{STAGE_LABELS.get(name, name)} #{v['rank']} ({v['score']:.3g})"
        for name, v in explain.items()
        if isinstance(v, dict) and "rank" in v and name != "rerank"
    ]
    line = "first stage: " + (", ".join(ranks) if ranks else "none")
    if "fused_rank" in explain:
        line += f" → fused #{explain['fused_rank']}"
    out = [line]
    rr = explain.get("rerank")
    if isinstance(rr, dict):
        out.append(f"rerank ({rr.get('by')}): #{rr.get('rank', '?')} (score {rr.get('score', 0.0):.3g})")
    if explain.get("expansions"):
        out.append("expansions found: " + "; ".join(explain["expansions"]))
    return out


def _expansion_line(expansions: list[dict[str, Any]]) -> str:
    return "; ".join(f"{a['from']} → {', '.join(a['to'][:4])} [{a['dictionary']}]" for a in expansions)


def print_hits(query: str, result: Any, explain: bool = False, verbose: bool = False) -> None:
    """The hits: a header line (rank, score, kind, id for `pisteur read`, title, where) and a snippet each,
    every wrapped line kept under the hit's column; the timings line only with ``verbose`` or ``explain``."""
    hits = result.hits
    if explain and getattr(result, "expansions", None):
        console.print("[dim]expansions:[/]", escape(_expansion_line(result.expansions)), highlight=False)
    opts = getattr(result, "options", None) or {}
    if explain and (opts.get("tuned") or opts.get("adapter")):
        console.print("[dim]from this index's tuning:[/]", escape(str(opts.get("tuned"))),
                      "[dim]+ query adapter[/]" if opts.get("adapter") else "", highlight=False)
    if not hits:
        console.print(f"no hit for [bold]{escape(query)}[/]")
        return
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", width=3, no_wrap=True)
    grid.add_column()
    for rank, h in enumerate(hits, 1):
        text = " ".join(h.text.split())
        head, body = _hit_row(rank, h)
        grid.add_row(head, body)
        grid.add_row("", Text(text[:300] + ("…" if len(text) > 300 else "")))
        if explain and h.explain:
            for line in explain_lines(h.explain):
                grid.add_row("", Text(line, style="dim"))
    console.print(grid)
    timings = getattr(result, "timings", None)
    if timings and (verbose or explain):
        console.print("[dim]" + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in timings.items()) + "[/]")


def print_status(st: dict[str, Any]) -> None:
    t = Table(show_header=False, box=None)
    t.add_row("index", st["index"])
    t.add_row("model", f"{st.get('model')} ({st.get('dims')} dims)")
    t.add_row("vectors", str(st.get("vectors")))
    t.add_row("sources", f"{st['sources']} " + str(st.get("sources_by_status", {})))
    t.add_row("chunks", f"{st['chunks']} " + str(st.get("chunks_by_kind", {})))
    t.add_row("on disk", _human(st["bytes_on_disk"]))
    t.add_row("last update", str(st.get("last_update")))
    console.print(t)
    for s in st.get("skipped", [])[:50]:
        console.print(f"  [yellow]skipped[/] {escape(s['path'])}: {escape(s['reason'])}", highlight=False)
