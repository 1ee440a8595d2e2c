"""Crash safety under kill -9: run the real CLI on a small corpus, SIGKILL it at random moments, check the index.

    python bench/kill_loop.py [--kills 100] [--budget-s 1800] [--model use-m3] [--sessions DIR] [--seed 1]

Three modes, chosen in turn: ``full`` (``pisteur index`` into an empty index), ``incremental`` (``pisteur index``
after appending to a session, editing one document and deleting another) and ``remove`` (``pisteur remove`` of a
folder and a file). Each kill falls uniformly over the mode's un-killed duration (measured first), so kills land
in start-up, the read phase (words first), the dense phase (vectors) and commits alike; half the cycles kill the
resuming run once more. After each kill the index must open, pass SQLite's integrity check, answer
``pisteur search``, hold no chunk twice, one vector per chunk marked dense, and every source committed before the
kill (read just before it) unless the run was meant to change it. A final un-killed run must then equal a clean
build of the same final corpus: same sources, same chunks per source, one vector per chunk.

The corpus is the repository's ``samples/`` plus the small sessions of ``bench/data/claude-sessions`` (or
``--sessions DIR``); writes ``bench/results/kill_loop.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from _common import DATA_DIR, REPO_DIR, BenchError, command_line, write_result
from _kill_check import committed_sources, diff, generation, kill_phase, lost, problems, ro, signature

Mode = Literal["full", "incremental", "remove"]
MODES: tuple[Mode, ...] = ("full", "incremental", "remove")
SESSIONS = ("short.jsonl", "tool_heavy.jsonl", "subagent.jsonl")


@dataclass
class Tally:
    kills: int = 0
    corrupt: int = 0
    lost: int = 0
    duplicated: int = 0
    mismatches_vs_clean: int = 0
    finished_before_kill: int = 0
    empty_search_refused: int = 0
    # un-killed durations of the mode's run: the first timing, then every run that finished before its kill
    # (kills fall uniformly over their median, which follows the machine's load)
    durations: list[float] = field(default_factory=list)
    phase: Counter[str] = field(default_factory=Counter)


@dataclass
class Layout:
    """Where one run lives: the corpus (always at the same path, as the index stores absolute paths), the
    index, and the saved corpus states and clean indexes."""

    work: Path
    corpus: Path
    index: Path
    model: str
    env: dict[str, str]
    sources: dict[str, int] = field(default_factory=dict)  # sources of each clean build

    def state(self, name: str) -> Path:
        return self.work / "states" / name

    def clean(self, name: str) -> Path:
        return self.work / "clean" / name


# -- corpus ---------------------------------------------------------------------------------------------


def build_corpus(dst: Path, sessions: Path) -> None:
    """The base corpus: sample sessions and documents, plus a few small real sessions."""
    shutil.copytree(REPO_DIR / "samples" / "claude", dst / "claude")
    shutil.copytree(REPO_DIR / "samples" / "docs", dst / "docs")
    (dst / "sessions").mkdir()
    for name in SESSIONS:
        if (sessions / name).exists():
            shutil.copy2(sessions / name, dst / "sessions" / name)


def mutate(corpus: Path) -> list[Path]:
    """The incremental change: three turns appended to a session, one document edited, one deleted. Returns the
    files the next run is meant to change."""
    session = corpus / "sessions" / "short.jsonl"
    last = json.loads(session.read_text(encoding="utf-8").splitlines()[-1])
    with session.open("a", encoding="utf-8") as fh:
        for i in range(3):
            rec = {**last, "uuid": f"kill-loop-{i}", "parentUuid": last.get("uuid"), "type": "user",
                   "message": {"role": "user", "content": f"question ajoutée {i} : où est le scellé numéro {i} ?"}}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    note = corpus / "docs" / "note_synthese.md"
    note.write_text(note.read_text(encoding="utf-8") + "\n\nAjout : le véhicule a été retrouvé au parking.\n",
                    encoding="utf-8")
    (corpus / "docs" / "communique.html").unlink()
    return [session, note, corpus / "docs" / "communique.html"]


def remove_targets(corpus: Path) -> list[Path]:
    return [corpus / "docs", corpus / "sessions" / "tool_heavy.jsonl"]


def restore(lay: Layout, state: str) -> None:
    """Put a saved corpus state back at the corpus path (copy2 keeps mtimes: unchanged files stay unchanged)."""
    shutil.rmtree(lay.corpus, ignore_errors=True)
    shutil.copytree(lay.state(state), lay.corpus)


# -- running the CLI ------------------------------------------------------------------------------------


def cli(lay: Layout, mode: Mode, index: Path) -> list[str]:
    base = [sys.executable, "-m", "pisteur.cli"]
    if mode == "remove":
        return [*base, "remove", *map(str, remove_targets(lay.corpus)), "--index", str(index)]
    return [*base, "index", str(lay.corpus), "--index", str(index), "--model", lay.model, "--quiet"]


def run(lay: Layout, mode: Mode, index: Path) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cli(lay, mode, index), env=lay.env, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"{mode} run failed: {r.stderr[-1500:]}")
    return time.perf_counter() - t0


def run_and_kill(lay: Layout, mode: Mode, at: float) -> tuple[dict[str, tuple[str, int]] | None, float]:
    """Start the mode's run and SIGKILL its process group after ``at`` seconds. Returns the committed sources
    read just before the kill (None when the run finished first) and the seconds it ran."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cli(lay, mode, lay.index), env=lay.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        proc.wait(timeout=at)
    except subprocess.TimeoutExpired:
        before = committed_sources(lay.index)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return before, at
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} run failed before the kill: {err[-1500:]}")
    return None, time.perf_counter() - t0


# -- checks ---------------------------------------------------------------------------------------------


def search_works(lay: Layout, index: Path) -> str | None:
    """None when ``pisteur search`` answers on the index, else its error."""
    if not (index / "index.sqlite").exists():
        return None
    r = subprocess.run([sys.executable, "-m", "pisteur.cli", "search", "témoin scellé", "--index", str(index)],
                       env=lay.env, capture_output=True, text=True, timeout=300)
    return None if r.returncode == 0 and "Traceback" not in r.stderr else f"search: {r.stderr.strip()[-400:]}"


# -- the loop -------------------------------------------------------------------------------------------


def prepare(lay: Layout, sessions: Path) -> tuple[dict[Mode, float], dict[Mode, set[str]]]:
    """Save the corpus states, build the clean indexes, time each mode un-killed. Returns (seconds per mode,
    sources each mode's run is meant to change)."""
    build_corpus(lay.state("v0"), sessions)
    restore(lay, "v0")
    changed = {str(p) for p in mutate(lay.corpus)}
    shutil.copytree(lay.corpus, lay.state("v1"))
    restore(lay, "v0")
    for target in remove_targets(lay.corpus):
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    shutil.copytree(lay.corpus, lay.state("removed"))
    for state in ("v0", "v1", "removed"):
        restore(lay, state)
        run(lay, "full", lay.clean(state))
        lay.sources[state] = len(committed_sources(lay.clean(state)))
    seconds: dict[Mode, float] = {}
    for mode, state in (("full", "v0"), ("incremental", "v1"), ("remove", "v0")):
        reset_index(lay, mode)
        restore(lay, state)
        seconds[mode] = run(lay, mode, lay.index)
    roots = tuple(str(t) for t in remove_targets(lay.corpus))
    removed = {p for p in committed_sources(lay.clean("v0")) if p.startswith(roots)}
    return seconds, {"full": set(), "incremental": changed, "remove": removed}


def reset_index(lay: Layout, mode: Mode) -> None:
    shutil.rmtree(lay.index, ignore_errors=True)
    if mode != "full":
        shutil.copytree(lay.clean("v0"), lay.index)


# What `pisteur search` says on an index killed before anything was committed (not even its model): the same
# one-line refusal as for an index that does not exist yet; the next `pisteur index` completes it.
EMPTY = "this index has no model yet: run `pisteur index` first"
TARGET: dict[Mode, str] = {"full": "v0", "incremental": "v1", "remove": "removed"}


def kill_once(lay: Layout, mode: Mode, at: float, changing: set[str], t: Tally) -> list[str] | None:
    """One killed run and its checks; None when the run finished before the kill."""
    start_gen = generation(lay.index) if (lay.index / "index.sqlite").exists() else -1
    before, ran = run_and_kill(lay, mode, at)
    if before is None:
        t.finished_before_kill += 1
        t.durations.append(ran)
        return None
    t.kills += 1
    t.phase[kill_phase(lay.index, start_gen, lay.sources[TARGET[mode]])] += 1
    corrupt, dups = problems(lay.index)
    if err := search_works(lay, lay.index):
        if EMPTY in err and not committed_sources(lay.index):
            t.empty_search_refused += 1  # killed before its model was recorded: an empty index, said clearly
        else:
            corrupt.append(err)
    gone = lost(before, committed_sources(lay.index), changing)
    t.corrupt += bool(corrupt)
    t.duplicated += bool(dups)
    t.lost += bool(gone)
    return corrupt + dups + gone


def cycle(lay: Layout, mode: Mode, rng: random.Random, changing: set[str], t: Tally) -> list[dict[str, object]]:
    """Prepare the mode's start state, kill its run once or twice, finish it un-killed, compare with a clean
    build. Returns the failures found."""
    reset_index(lay, mode)
    restore(lay, "v0" if mode != "incremental" else "v1")
    failures: list[dict[str, object]] = []
    for _ in range(rng.choice((1, 2))):
        at = round(rng.uniform(0.0, statistics.median(t.durations)), 3)
        found = kill_once(lay, mode, at, changing, t)
        if found:
            failures.append({"mode": mode, "kill_at_s": at, "problems": found})
            keep = lay.work / "failures" / f"{mode}-{len(list((lay.work / 'failures').glob('*')))}"
            shutil.copytree(lay.index, keep, dirs_exist_ok=True)
    run(lay, mode, lay.index)
    corrupt, dups = problems(lay.index)
    mism = corrupt + dups + diff(signature(lay.index, lay.corpus), signature(lay.clean(TARGET[mode]), lay.corpus))
    if mism:
        t.mismatches_vs_clean += 1
        failures.append({"mode": mode, "after": "final un-killed run", "problems": mism})
    return failures


def corpus_size(lay: Layout) -> dict[str, int]:
    files = [p for p in lay.state("v0").rglob("*") if p.is_file()]
    with ro(lay.clean("v0")) as con:
        chunks = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), "chunks": chunks}


def loop(lay: Layout, args: argparse.Namespace) -> dict[str, object]:
    t0 = time.perf_counter()
    seconds, changing = prepare(lay, args.sessions)
    print(f"un-killed seconds: {json.dumps({m: round(s, 2) for m, s in seconds.items()})}", flush=True)
    rng = random.Random(args.seed)
    tallies = {m: Tally(durations=[seconds[m]]) for m in MODES}
    failures: list[dict[str, object]] = []
    i = 0
    while sum(t.kills for t in tallies.values()) < args.kills and time.perf_counter() - t0 < args.budget_s:
        mode = MODES[i % len(MODES)]
        i += 1
        found = cycle(lay, mode, rng, changing[mode], tallies[mode])
        for f in found:
            f["cycle"] = i
            print(json.dumps(f, ensure_ascii=False), flush=True)
        failures += found
        print(f"cycle {i} {mode}: kills {sum(t.kills for t in tallies.values())}", flush=True)
    return summary(lay, tallies, failures, seconds, time.perf_counter() - t0, i)


PHASES = ("before its first commit", "read phase", "dense phase", "after its last vector")


def summary(lay: Layout, tallies: dict[Mode, Tally], failures: list[dict[str, object]],
            seconds: dict[Mode, float], wall: float, cycles: int) -> dict[str, object]:
    keys = ("kills", "corrupt", "lost", "duplicated", "mismatches_vs_clean", "empty_search_refused",
            "finished_before_kill")
    by_mode = {m: {k: getattr(t, k) for k in keys} | {"kill_phase": dict(t.phase),
                                                       "kill_window_s": round(statistics.median(t.durations), 2)}
               for m, t in tallies.items()}
    total = {k: sum(getattr(t, k) for t in tallies.values()) for k in keys}
    rows = [[m, *(getattr(t, k) for k in keys[:6])] for m, t in tallies.items()]
    rows.append(["all", *(total[k] for k in keys[:6])])
    phases = [[m, round(statistics.median(t.durations), 1), *(t.phase[p] for p in PHASES)]
              for m, t in tallies.items()]
    return {**total, "cycles": cycles, "seconds": round(wall, 1), "model": lay.model,
            "commit_chunks": int(lay.env["PISTEUR_COMMIT_CHUNKS"]), "corpus": corpus_size(lay),
            "unkilled_seconds": {m: round(s, 2) for m, s in seconds.items()},
            "by_mode": by_mode, "failures": failures,
            "tables": {"kills": {"columns": ["mode", "kill -9", "corrupt", "lost", "duplicated",
                                             "differs from a clean build",
                                             "empty, search refused"], "rows": rows},
                       "phases": {"columns": ["mode", "kill window (s)", *PHASES], "rows": phases}}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=100, help="stop after this many kill -9")
    ap.add_argument("--budget-s", type=float, default=1800.0, help="stop after this many seconds in any case")
    ap.add_argument("--model", default="use-m3", help="embedding model (use-m3: fast and real)")
    ap.add_argument("--sessions", type=Path, default=DATA_DIR / "claude-sessions",
                    help="folder holding short.jsonl, tool_heavy.jsonl, subagent.jsonl")
    ap.add_argument("--commit-chunks", type=int, default=20, help="commit at least every N chunks (more commits)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, help="keep the corpus, indexes and failing indexes here")
    ap.add_argument("--no-write", action="store_true", help="print the result, do not write bench/results")
    args = ap.parse_args(argv)
    if args.work and args.work.exists() and any(args.work.iterdir()):
        raise BenchError(f"{args.work} is not empty: give a new or empty folder to --work")
    work = args.work or Path(tempfile.mkdtemp(prefix="pisteur-kill-"))
    env = {**os.environ, "PISTEUR_COMMIT_CHUNKS": str(args.commit_chunks), "PISTEUR_CACHE": str(work / "cache")}
    env.pop("PISTEUR_INDEX", None)
    lay = Layout(work, work / "corpus", work / "index", args.model, env)
    try:
        results = loop(lay, args)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({k: v for k, v in results.items() if k not in ("tables", "failures")}, indent=1))
    if not args.no_write:
        print(write_result("kill_loop", command_line(), results))


if __name__ == "__main__":
    main()
