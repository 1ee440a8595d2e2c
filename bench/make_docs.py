"""Render the benchmark tables of the docs from the result files in ``bench/results``.

    python bench/make_docs.py            # rewrite every block between markers
    python bench/make_docs.py --check    # exit 1 and name the stale files (what tests/test_bench_docs.py runs)

In ``docs/BENCHMARKS.md``, ``docs/bench/*.md`` and ``docs/tuning.md`` a block

    <!-- bench:NAME -->            or  <!-- bench:NAME#TABLE -->   or  <!-- bench:PREFIX* -->
    ...generated, do not edit...
    <!-- /bench -->

is replaced by the table rendered from ``bench/results/NAME.json`` (``#TABLE``: one of its tables; ``PREFIX*``:
one row per result file whose name starts with PREFIX), followed by a line saying where the figures come from:
the command, date, machine and load of the run, or — for figures measured earlier and recorded without being
re-run — ``measured`` and the original command.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import REPO_DIR, RESULTS_DIR, BenchError

DOCS = ("docs/BENCHMARKS.md", "docs/bench/*.md", "docs/tuning.md")
MARKER = re.compile(r"<!-- bench:(?P<name>[\w.\-]+\*?)(?:#(?P<table>[\w.\-]+))? -->\n(?P<body>.*?)<!-- /bench -->",
                    re.DOTALL)
Result = dict[str, Any]


def load_results(results_dir: Path = RESULTS_DIR) -> dict[str, Result]:
    out = {}
    for f in sorted(results_dir.glob("*.json")):
        try:
            out[f.stem] = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BenchError(f"{f}: not valid JSON ({exc})") from None
    return out


# -- formatting -----------------------------------------------------------------------------------------


def md_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return "—" if v is None else str(v).replace("|", "\\|") if not isinstance(v, str) else v

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _machine(m: Any) -> str:
    if isinstance(m, dict):
        mem = f", {m['memory_gib']} GiB" if m.get("memory_gib") else ""
        return f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores{mem}, Python {m.get('python', '?')}"
    return str(m) if m else "machine not recorded"


def _load(load: Any) -> str:
    if isinstance(load, list) and load:
        return "load average " + " / ".join(str(x) for x in load)
    return str(load) if load else "load not recorded"


def provenance(name: str, res: Result) -> str:
    src = f"`bench/results/{name}.json`"
    if "measured" in res:
        return (f"<sub>Measured {res['measured']} ({_machine(res.get('machine'))}; {_load(res.get('load'))}) with "
                f"`{res.get('command', '?')}`; recorded in {src} from that run, not re-measured.</sub>\n")
    return (f"<sub>`{res.get('command', '?')}` — {res.get('date', '?')}, {_machine(res.get('machine'))}, "
            f"{_load(res.get('load'))}, commit {res.get('commit') or '?'}; {src}.</sub>\n")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1e6:,.1f} MB"


# -- renderers ------------------------------------------------------------------------------------------


def render_tables(name: str, res: Result, table: str | None) -> str:
    """A recorded table (``results.tables[TABLE] = {"columns": [...], "rows": [[...]]}``)."""
    tables = res["results"].get("tables", {})
    if table is None:
        if len(tables) != 1:
            raise BenchError(f"{name}: name one of its tables ({', '.join(tables)}) as bench:{name}#TABLE")
        table = next(iter(tables))
    if table not in tables:
        raise BenchError(f"{name}: no table '{table}' (has: {', '.join(tables)})")
    t = tables[table]
    return md_table(t["columns"], t["rows"])


def render_sessions_eval(name: str, res: Result, table: str | None) -> str:
    m = res["results"]["metrics"]
    rows = [["all", m["all"]["n"], _pct(m["all"]["success@10"]), f"{m['all']['mrr@10']:.3f}"]]
    for key, label in (("lang", "language"), ("split", "split"), ("type", "type")):
        for g, v in m[key].items():
            rows.append([f"{label}: {g}", v["n"], _pct(v["success@10"]), f"{v['mrr@10']:.3f}"])
    idx = res["results"].get("index", {})
    head = (f"Index: {idx.get('model', '?')}, {idx.get('chunks', '?'):,} chunks; search p50 "
            f"{res['results']['search']['p50_ms']:.0f} ms (via {res['results'].get('via', 'api')}).\n\n")
    return head + md_table(["queries", "n", "success@10", "MRR@10"], rows)


def render_scale_index(names: Sequence[str], results: Sequence[Result]) -> str:
    rows = []
    for name, res in zip(names, results, strict=True):
        r = res["results"]
        rows.append([f"`{name.removeprefix('scale_index-')}`", _mb(r.get("corpus_bytes")), r.get("model"),
                     f"{r.get('chunks', 0):,}", r.get("first_searchable_s"),
                     f"{r.get('full_dense_s')} ({r.get('dense_from')})",
                     r.get("chunks_per_s"), _mb(r.get("peak_rss_bytes")), _mb(r.get("bytes_on_disk")),
                     r.get("search", {}).get("p50_ms")])
    cols = ["run", "corpus", "model", "chunks", "first searchable (s)", "full dense (s)", "chunks/s",
            "peak RSS", "on disk", "search p50 (ms)"]
    return md_table(cols, rows)


def _change(x: float, base: float) -> str:
    return "" if x == base else f"{x - base:+.4f}"


def render_tune_steps(name: str, res: Result, table: str | None) -> str:
    """nDCG@10 of each tuning step on real questions (``results.ndcg@10[preset][variant]``)."""
    r = res["results"]
    labels = {"untuned": "untuned", "calibration": "calibration only", "adapter": "adapter only",
              "calibration+adapter": "calibration + adapter"}
    blocks = []
    for preset, scores in r["ndcg@10"].items():
        base = scores.get("untuned", 0.0)
        rows = [[labels.get(k, f"tuned on `{k.removeprefix('foreign:')}`" if k.startswith("foreign:") else k),
                 f"{v:.4f}", _change(v, base)] for k, v in scores.items()]
        blocks.append(md_table([f"{preset} pipeline", "nDCG@10", "change"], rows))
    head = (f"{r.get('dataset', '?')}, {r.get('held_out_questions', '?')} real questions, model "
            f"`{r.get('model', '?')}`; tuning made in {r.get('tune_seconds', '?')} s from the corpus alone.\n\n")
    return head + "\n".join(blocks)


def render_tune_sms(name: str, res: Result, table: str | None) -> str:
    """Recall of the SMS held-out halves, untuned against tuned (``results["SPLIT | default[ tuned]"]``)."""
    r = res["results"]
    splits = dict.fromkeys(k.split(" | ")[0] for k in r if " | " in k)
    rows = []
    for sp in splits:
        cells = []
        for cfg in ("default", "default tuned"):
            v = r.get(f"{sp} | {cfg}")
            cells.append(f"{v['found']}/{v['targets']} = {_pct(v['recall'])}" if v else None)
        rows.append([sp, *cells])
    return md_table(["targets", "untuned", "tuned"], rows)


def render_bakeoff_synthetic(name: str, res: Result, table: str | None) -> str:
    """The same models on real questions and on synthetic queries from the corpus alone."""
    r = res["results"]
    rows = [[f"`{x['model']}`", x["config"], f"{x['real']:.4f}",
             "—" if x["synthetic"] is None else f"{x['synthetic']:.4f}"] for x in r["rows"]]
    head = (f"{r['dataset']}: {r['real_questions']} real questions, {r['synthetic_queries']} synthetic queries "
            "(held-out documents of `pisteur eval make`).\n\n")
    rec = r["recommendation"]
    tail = f"\nRecommendation on real questions: {rec['real']}.\nOn synthetic queries: {rec['synthetic']}.\n"
    return head + md_table(["model", "configuration", "nDCG@10 real", "nDCG@10 synthetic"], rows) + tail


def _ft_cell(after: float, before: float) -> str:
    return f"{after:.4f} ({after - before:+.4f})"


def render_finetune(names: Sequence[str], results: Sequence[Result]) -> str:
    """One row per fine-tuning run: what it trained on, its cost, and the real questions after it."""
    rows = []
    for res in results:
        r = res["results"]
        ft, nd = r["finetune"], r["ndcg@10"]
        base = nd.get("before_torch_fp32", nd["before"])
        kinds = r.get("kinds", "all")
        kinds = "every kind" if kinds == "all" else ", ".join(k for k in kinds if k != "llm")
        neg = "closest negative" if not r.get("negative_rank") else f"negative of rank {r['negative_rank'] + 1}"
        ret = r.get("retention", {}).get("ndcg@10_model_alone", {})
        rows.append([f"{kinds}; {neg}; {ft['epochs']} epoch(s), {ft['max_seq_length']} tokens",
                     f"{ft['pairs']} / {ft['steps']}", f"{ft['wall_s']:.0f} / {ft['process_cpu_s']:.0f}",
                     _ft_cell(nd["after"]["dense"], base["dense"]), _ft_cell(nd["after"]["default"], base["default"]),
                     _ft_cell(ret["after"], ret["before"]) if ret else "—"])
    cols = ["training", "pairs / steps", "wall / CPU s", "dense alone", "default pipeline", "general set"]
    return md_table(cols, rows)


PREFIX_RENDERERS: dict[str, Callable[[Sequence[str], Sequence[Result]], str]] = {
    "scale_index-": render_scale_index,
    "tune_finetune-": render_finetune,
}

RENDERERS: dict[str, Callable[[str, Result, str | None], str]] = {
    "bakeoff_synthetic": render_bakeoff_synthetic,
    "sessions_eval": render_sessions_eval,
    "tune_piaf": render_tune_steps,
    "tune_faq": render_tune_steps,
    "tune_sms": render_tune_sms,
}


def render_block(name: str, table: str | None, results: dict[str, Result]) -> str:
    if name.endswith("*"):
        names = sorted(n for n in results if n.startswith(name[:-1]))
        if not names:
            raise BenchError(f"no result file matches bench/results/{name}.json")
        prefix_renderer = next((f for p, f in PREFIX_RENDERERS.items() if name.startswith(p)), render_scale_index)
        body = prefix_renderer(names, [results[n] for n in names])
        return body + "\n" + "\n".join(provenance(n, results[n]) for n in names)
    if name not in results:
        raise BenchError(f"the docs use bench/results/{name}.json, which does not exist")
    res = results[name]
    renderer = next((f for prefix, f in RENDERERS.items() if name.startswith(prefix)), render_tables)
    return renderer(name, res, table) + "\n" + provenance(name, res)


def render_doc(text: str, results: dict[str, Result]) -> str:
    def sub(m: re.Match[str]) -> str:
        name, table = m.group("name"), m.group("table")
        tag = name + (f"#{table}" if table else "")
        return f"<!-- bench:{tag} -->\n{render_block(name, table, results)}<!-- /bench -->"

    return MARKER.sub(sub, text)


def doc_files(root: Path = REPO_DIR) -> list[Path]:
    return sorted(p for pattern in DOCS for p in root.glob(pattern))


def stale_docs(root: Path = REPO_DIR, results_dir: Path = RESULTS_DIR, write: bool = False) -> list[Path]:
    """The doc files whose generated blocks differ from the results (rewritten when ``write``)."""
    results = load_results(results_dir)
    stale = []
    for path in doc_files(root):
        text = path.read_text(encoding="utf-8")
        new = render_doc(text, results)
        if new != text:
            stale.append(path)
            if write:
                path.write_text(new, encoding="utf-8")
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a doc is stale")
    args = ap.parse_args(argv)
    stale = stale_docs(write=not args.check)
    for p in stale:
        print(f"{'stale' if args.check else 'updated'}: {p.relative_to(REPO_DIR)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
