"""Retrieval quality on real Claude Code sessions: success@10 and MRR@10 of ``pisteur search`` on the session
query set (``bench/data/session-queries``: French and English queries judged with message uuids) over the
fixture sessions (``bench/data/claude-sessions``).

    python bench/sessions_eval.py                                  # temp index, default model (~15 min to embed)
    python bench/sessions_eval.py --index ~/idx/sessions-e5        # builds it once, then reuses it
    python bench/sessions_eval.py --model use-m3 --index ~/idx/sessions-use --name sessions_eval-use-m3

The sessions are indexed with the product CLI (``pisteur index``, incremental: an index directory given with
``--index`` that already holds them embeds nothing). Each query then runs through the product's search: the
Python API (default) or the CLI (``--via cli``: ``pisteur search --json`` per query). A hit answers a query
when its ``uuids`` (every message uuid the chunk covers) contain one of the query's judged uuids; MRR@10 uses
the product's metric (``pisteur.evaluate.metrics.mrr_at``) over hits labelled by the judged uuid they cover.
Writes ``bench/results/NAME.json`` (default ``sessions_eval``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from _common import DATA_DIR, BenchError, command_line, timing, write_result

from pisteur.evaluate.metrics import mrr_at

K = 10
Via = Literal["api", "cli"]


@dataclass(frozen=True)
class Query:
    qid: str
    text: str
    lang: str
    type: str
    split: str
    judged: frozenset[str]


def load_queries(folder: Path) -> list[Query]:
    """Queries and their judged message uuids (``queries.jsonl`` + ``qrels/test.tsv``)."""
    qfile, rfile = folder / "queries.jsonl", folder / "qrels" / "test.tsv"
    for f in (qfile, rfile):
        if not f.is_file():
            raise BenchError(f"{f} is missing (a session query set: queries.jsonl + qrels/test.tsv)")
    judged: dict[str, set[str]] = defaultdict(set)
    for no, line in enumerate(rfile.read_text(encoding="utf-8").splitlines()):
        cols = line.split("\t")
        if no == 0 and cols[0] == "query-id":
            continue
        if len(cols) < 3:
            raise BenchError(f"{rfile}:{no + 1}: expected query-id, corpus-id, score[, split]")
        if int(cols[2]) > 0:
            judged[cols[0]].add(cols[1])
    out = []
    for line in qfile.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        meta = row.get("metadata", {})
        qid = str(row["_id"])
        out.append(Query(qid, row["text"], meta.get("lang", "?"), meta.get("type", "?"), meta.get("split", "all"),
                         frozenset(judged.get(qid, ()))))
    return out


def index_sessions(sessions: Path, index: Path, model: str | None) -> float:
    """Run ``pisteur index`` (incremental) into ``index``; return its wall time in seconds."""
    cmd = [sys.executable, "-m", "pisteur.cli", "index", str(sessions), "--index", str(index), "--quiet"]
    if model:
        cmd += ["--model", model]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"pisteur index failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return time.perf_counter() - t0


def api_searcher(index: Path) -> Callable[[str], list[dict[str, Any]]]:
    """The product's search, in process: the store and the query model are opened once."""
    from pisteur.embed import embedder_for_manifest
    from pisteur.retrieve.pipeline import search
    from pisteur.store import open_store

    store = open_store(index)
    embedder = embedder_for_manifest(store.manifest(), lazy=True, workers=1)

    def run(text: str) -> list[dict[str, Any]]:
        return [h.to_json() for h in search(store, embedder, text, k=K).hits]

    return run


def cli_searcher(index: Path) -> Callable[[str], list[dict[str, Any]]]:
    """The product's search through its CLI (``pisteur search --json``), one process per query."""

    def run(text: str) -> list[dict[str, Any]]:
        cmd = [sys.executable, "-m", "pisteur.cli", "search", text, "-k", str(K), "--index", str(index), "--json"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchError(f"pisteur search failed: {proc.stderr.strip()[-300:]}")
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    return run


def label(hit: dict[str, Any], judged: frozenset[str]) -> str:
    """A hit's label for the metric: the first judged uuid it covers, else its own chunk id."""
    for u in hit.get("uuids") or ():
        if u in judged:
            return u
    return f"chunk:{hit.get('id')}"


def score_query(q: Query, hits: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ranking = [label(h, q.judged) for h in hits[:K]]
    rel = dict.fromkeys(q.judged, 1)
    rank = next((i + 1 for i, d in enumerate(ranking) if d in rel), None)
    return {"id": q.qid, "lang": q.lang, "type": q.type, "split": q.split, "rank": rank,
            "success@10": 1.0 if rank else 0.0, "mrr@10": mrr_at(ranking, rel, K),
            "kinds": [h.get("kind") for h in hits[:K]]}


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """success@10 / MRR@10 overall and per language, split and query type."""

    def mean(group: Sequence[dict[str, Any]]) -> dict[str, float | int]:
        n = len(group)
        return {"n": n, "success@10": round(sum(r["success@10"] for r in group) / n, 4),
                "mrr@10": round(sum(r["mrr@10"] for r in group) / n, 4)}

    out: dict[str, Any] = {"all": mean(rows)}
    for key in ("lang", "split", "type"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            groups[r[key]].append(r)
        out[key] = {g: mean(v) for g, v in sorted(groups.items())}
    return out


def evaluate(queries: Sequence[Query], run: Callable[[str], list[dict[str, Any]]]) -> tuple[list, list[float]]:
    rows, seconds = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = run(q.text)
        seconds.append(time.perf_counter() - t0)
        rows.append(score_query(q, hits))
    return rows, seconds


def index_facts(index: Path) -> dict[str, Any]:
    from pisteur.store import open_store

    st = open_store(index).stats()
    keep = ("model", "dims", "chunks", "chunks_by_kind", "sources", "bytes_on_disk")
    return {k: st[k] for k in keep if k in st}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=Path, default=DATA_DIR / "claude-sessions", help="folder of sessions")
    ap.add_argument("--queries", type=Path, default=DATA_DIR / "session-queries", help="the query set folder")
    ap.add_argument("--index", type=Path, help="index directory to build once and reuse (default: a temp dir)")
    ap.add_argument("--model", help="embedding model for a new index (default: the product's default)")
    ap.add_argument("--via", choices=("api", "cli"), default="api", help="search through the Python API or CLI")
    ap.add_argument("--split", choices=("all", "train", "held-out"), default="all")
    ap.add_argument("--name", default="sessions_eval", help="result file name (bench/results/NAME.json)")
    ap.add_argument("--no-write", action="store_true", help="print only, write no result file")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if not args.sessions.is_dir():
        raise BenchError(f"{args.sessions} is not a folder of Claude Code sessions")
    queries = [q for q in load_queries(args.queries) if args.split in ("all", q.split)]
    with tempfile.TemporaryDirectory(prefix="pisteur-sessions-") as tmp:
        index = args.index or Path(tmp) / "index"
        index_s = index_sessions(args.sessions, index, args.model)
        run = api_searcher(index) if args.via == "api" else cli_searcher(index)
        rows, seconds = evaluate(queries, run)
        facts = index_facts(index)
    results = {"metrics": aggregate(rows), "index": facts, "index_run_s": round(index_s, 1),
               "search": timing(seconds).to_json(), "via": args.via, "k": K, "queries": rows}
    summary = {"all": results["metrics"]["all"], "lang": results["metrics"]["lang"]}
    print(json.dumps(summary, indent=1))
    if not args.no_write:
        print(write_result(args.name, command_line(), results), file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
