"""Indexing at scale, measured through the product CLI on a generated corpus (``bench/scale_history.py``).

    python bench/scale_history.py /data/gen16 --mb 16
    python bench/scale_index.py /data/gen16/claude/projects --size 16MB --model use-m3
    python bench/scale_index.py /data/gen16/claude/projects --size 16MB            # the default model

Runs ``pisteur index CORPUS --index TMP`` in a child process (so it measures whatever the indexer does) and
reports, as JSON (``bench/results/scale_index-SIZE[-MODEL].json``):

- ``first_searchable_s``: from the start of the run to the first ``pisteur search`` (polled every
  ``--poll`` s in another process) that returns a hit;
- ``full_dense_s``: when ``pisteur status --json`` reports every chunk dense, if it reports a dense count
  (a ``dense`` object with ``done``/``total`` or a ``dense_chunks`` number); else the end of the run, which is
  when every vector is written with today's indexer (``dense_from``: which one was used);
- ``run_s``, ``chunks``, ``chunks_per_s`` (chunks / run time), ``peak_rss_bytes`` (sum over the child process
  tree, sampled every 0.2 s), ``bytes_on_disk`` (the index folder), ``search`` (p50/p95 of ``--queries``
  searches in one warm process through the Python API, after the run).

Polling costs CPU on a small machine: the searches started while indexing compete with it (a 2-core machine
pays for it; ``--poll`` sets the interval).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import BenchError, PeakRSS, command_line, timing, write_result

QUERIES = (
    "où a-t-on corrigé le bug de migration", "pre-commit hook failed dialyzer", "credo nesting too deep",
    "comment lancer le serveur phoenix", "git push no upstream branch", "test LiveView sandbox",
    "configuration OpenTelemetry", "rendez-vous ce soir à la gare", "la BAC devant le tabac", "tkt je ramène le colis",
    "fichier css ignoré par git", "cyclomatic complexity", "mix format", "xterm scroll", "session hook contract",
    "migration SQLite ALTER TABLE", "désolé j'arrive en retard", "erreur de compilation", "tail worker", "token store",
)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pisteur.cli", *args]


def status(index: Path) -> dict[str, Any] | None:
    proc = subprocess.run(_cli("status", "--index", str(index), "--json"), capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None


def dense_progress(st: dict[str, Any] | None) -> tuple[int, int] | None:
    """(dense, total) chunks when ``status --json`` reports it, else None."""
    if not st:
        return None
    dense = st.get("dense")
    if isinstance(dense, dict) and isinstance(dense.get("done"), int) and isinstance(dense.get("total"), int):
        return dense["done"], dense["total"]
    if isinstance(st.get("dense_chunks"), int) and isinstance(st.get("chunks"), int):
        return st["dense_chunks"], st["chunks"]
    return None


def searchable(index: Path, query: str) -> bool:
    proc = subprocess.run(_cli("search", query, "-k", "1", "--index", str(index), "--json"),
                          capture_output=True, text=True)
    return proc.returncode == 0 and bool(proc.stdout.strip())


@dataclass
class RunFacts:
    run_s: float = 0.0
    first_searchable_s: float | None = None
    full_dense_s: float | None = None
    dense_from: str = "end of run"
    peak_rss_bytes: int = 0
    returncode: int = 0
    stderr_tail: str = ""


def _poll(index: Path, t0: float, facts: RunFacts, query: str) -> None:
    if facts.first_searchable_s is None and (index / "manifest.json").exists() and searchable(index, query):
        facts.first_searchable_s = time.perf_counter() - t0
    if facts.full_dense_s is None:
        prog = dense_progress(status(index))
        if prog and prog[1] > 0 and prog[0] >= prog[1]:
            facts.full_dense_s, facts.dense_from = time.perf_counter() - t0, "status"


def run_index(corpus: Path, index: Path, model: str | None, poll: float, query: str) -> RunFacts:
    cmd = _cli("index", str(corpus), "--index", str(index), "--quiet")
    if model:
        cmd += ["--model", model]
    facts = RunFacts()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with PeakRSS(proc.pid) as mem:
        while proc.poll() is None:
            _poll(index, t0, facts, query)
            try:
                proc.wait(timeout=poll)
            except subprocess.TimeoutExpired:
                pass
        facts.run_s = time.perf_counter() - t0
    facts.peak_rss_bytes = mem.peak
    facts.returncode = proc.returncode
    facts.stderr_tail = (proc.stderr.read() if proc.stderr else "")[-500:]
    if facts.first_searchable_s is None and searchable(index, query):
        facts.first_searchable_s = facts.run_s  # searchable only once the run had ended
    if facts.full_dense_s is None:
        facts.full_dense_s = facts.run_s
    return facts


def search_latency(index: Path, queries: Sequence[str]) -> dict[str, Any]:
    """Warm search latency through the product's Python API (one process, the query model loaded once)."""
    from pisteur.embed import embedder_for_manifest
    from pisteur.retrieve.pipeline import search
    from pisteur.store import open_store

    store = open_store(index)
    embedder = embedder_for_manifest(store.manifest(), lazy=True, workers=1)
    search(store, embedder, queries[0], k=10)  # warm-up: loads the model
    seconds = []
    for q in queries:
        t0 = time.perf_counter()
        search(store, embedder, q, k=10)
        seconds.append(time.perf_counter() - t0)
    return timing(seconds).to_json()


def measure(corpus: Path, index: Path, model: str | None, poll: float, n_queries: int) -> dict[str, Any]:
    corpus_bytes = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file())
    facts = run_index(corpus, index, model, poll, QUERIES[0])
    if facts.returncode != 0:
        raise BenchError(f"pisteur index failed ({facts.returncode}): {facts.stderr_tail.strip()}")
    st = status(index) or {}
    chunks = int(st.get("chunks", 0))
    return {
        "corpus_bytes": corpus_bytes,
        "model": st.get("model"),
        "chunks": chunks,
        "chunks_by_kind": st.get("chunks_by_kind"),
        "sources": st.get("sources"),
        "run_s": round(facts.run_s, 1),
        "first_searchable_s": None if facts.first_searchable_s is None else round(facts.first_searchable_s, 1),
        "full_dense_s": round(facts.full_dense_s or facts.run_s, 1),
        "dense_from": facts.dense_from,
        "chunks_per_s": round(chunks / facts.run_s, 2) if facts.run_s else None,
        "peak_rss_bytes": facts.peak_rss_bytes,
        "bytes_on_disk": sum(p.stat().st_size for p in index.rglob("*") if p.is_file()),
        "search": search_latency(index, QUERIES[:n_queries]),
        "poll_s": poll,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path, help="folder to index (e.g. OUT/claude/projects of scale_history.py)")
    ap.add_argument("--size", required=True, help="label of the corpus size for the result name, e.g. 16MB")
    ap.add_argument("--model", help="embedding model (default: the product's default)")
    ap.add_argument("--index", type=Path, help="index folder (default: a temp dir, deleted); must be new")
    ap.add_argument("--poll", type=float, default=5.0, help="seconds between searchability polls")
    ap.add_argument("--queries", type=int, default=20, help="searches for the latency percentiles")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if not args.corpus.exists():
        raise BenchError(f"{args.corpus} does not exist")
    if args.index and args.index.exists() and any(args.index.iterdir()):
        raise BenchError(f"{args.index} is not empty: the benchmark measures a first indexing")
    with tempfile.TemporaryDirectory(prefix="pisteur-scale-") as tmp:
        results = measure(args.corpus, args.index or Path(tmp) / "index", args.model, args.poll, args.queries)
    print(json.dumps(results, indent=1))
    if not args.no_write:
        name = f"scale_index-{args.size}" + (f"-{args.model.replace(':', '_').replace('/', '_')}" if args.model else "")
        print(write_result(name, command_line(), results), file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
