"""What every bench script shares: dataset paths, timing percentiles, peak memory, machine description and
the versioned result file.

A script takes its datasets as arguments, falling back to ``$PISTEUR_EVAL_DIR`` (evaluation sets in BEIR
layout: ``piaf-dev``, ``sms-dev``) and ``$PISTEUR_DATA_DIR`` (corpora: Claude Code session folders), and
writes ``bench/results/NAME.json`` with :func:`write_result`::

    {"schema": 1, "name": ..., "command": ..., "date": ..., "machine": {...}, "load": [1, 5, 15 min],
     "commit": ..., "results": {...}}

A figure measured earlier and not re-run carries ``"measured": "<date>"`` and the original command and
machine instead of today's (see :func:`write_result`'s ``measured``).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DATA_DIR = BENCH_DIR / "data"


class BenchError(SystemExit):
    """A one-line error for the user (missing dataset, bad argument): exits with status 2, no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


# -- datasets -------------------------------------------------------------------------------------------


def dataset_path(arg: str | Path | None, name: str, env: str = "PISTEUR_EVAL_DIR") -> Path:
    """The dataset folder: ``arg`` if given, else ``$env/name``; a clear error when neither exists."""
    if arg:
        path = Path(arg).expanduser()
    elif os.environ.get(env):
        path = Path(os.environ[env]).expanduser() / name
    else:
        raise BenchError(f"no {name} dataset: pass its folder as an argument or set {env} (the folder holding {name})")
    if not path.exists():
        raise BenchError(f"{path} does not exist (the {name} dataset)")
    return path


def eval_path(arg: str | Path | None, name: str) -> Path:
    """An evaluation set (``piaf-dev``, ``sms-dev``) from an argument or ``$PISTEUR_EVAL_DIR``."""
    return dataset_path(arg, name, "PISTEUR_EVAL_DIR")


def data_path(arg: str | Path | None, name: str) -> Path:
    """A corpus (a folder of sessions, files) from an argument or ``$PISTEUR_DATA_DIR``."""
    return dataset_path(arg, name, "PISTEUR_DATA_DIR")


# -- timing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Percentiles of a list of durations, in milliseconds."""

    n: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float

    def to_json(self) -> dict[str, float | int]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), ``q`` in [0, 100]."""
    if not values:
        raise ValueError("percentile of an empty list")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def timing(seconds: Sequence[float]) -> Timing:
    """:class:`Timing` of durations given in seconds."""
    ms = [s * 1000.0 for s in seconds]
    return Timing(len(ms), percentile(ms, 50), percentile(ms, 95), statistics.fmean(ms), max(ms))


# -- memory ---------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants now (Linux /proc; 0 elsewhere)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _rss_kib(p)
        todo.extend(_children(p))
    return total * 1024


class PeakRSS:
    """Samples the resident memory of a process tree every ``interval`` seconds in a thread; ``peak`` is the
    largest sum seen. Sampling can miss a spike shorter than the interval (stated in results)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def self_peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (``ru_maxrss``)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- machine --------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, memory, OS, Python."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _mem_total_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def load() -> list[float]:
    """1, 5 and 15-minute load averages (how busy the machine was)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def git_commit() -> str | None:
    """The repository's commit, with ``+dirty`` when the working tree has changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_DIR, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_DIR,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def _portable(arg: str, prev: str | None) -> str:
    """A path of this machine outside the repository becomes a placeholder (``--index /x/y`` -> ``--index INDEX``):
    result files and the docs generated from them name no machine path."""
    path = Path(arg)
    if not path.is_absolute():
        return arg
    if path.is_relative_to(REPO_DIR):
        return str(path.relative_to(REPO_DIR))
    if prev and prev.startswith("--"):
        return prev.lstrip("-").replace("-", "_").upper()
    return "PATH"


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that produced a result, as the user would type it (paths relative to the repository, other
    machine paths as placeholders)."""
    args = list(sys.argv if argv is None else argv)
    out = [_portable(a, args[i - 1] if i else None) for i, a in enumerate(args)]
    return "python " + shlex.join(out)


# -- results --------------------------------------------------------------------------------------------


@dataclass
class Tables:
    """Rows collected while a script runs, in the shape ``bench/make_docs.py`` renders:
    ``{"TABLE": {"columns": [...], "rows": [[...], ...]}}`` (pass ``.tables`` inside the results)."""

    tables: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def add(self, table: str, columns: Sequence[str], row: Sequence[Any]) -> None:
        t = self.tables.setdefault(table, {"columns": list(columns), "rows": []})
        if t["columns"] != list(columns):
            raise ValueError(f"table {table}: columns changed")
        t["rows"].append(list(row))


def write_result(
    name: str,
    command: str,
    results: Any,
    *,
    measured: str | None = None,
    machine_info: dict[str, Any] | str | None = None,
    load_avg: list[float] | str | None = None,
    notes: str | None = None,
    out_dir: Path | None = None,
) -> Path:
    """Write ``bench/results/NAME.json`` (or ``out_dir/NAME.json``) and return its path.

    For a fresh run, leave ``measured``, ``machine_info`` and ``load_avg`` unset: today's date, this machine,
    its load and the git commit are recorded. For a figure measured earlier and only transcribed, pass
    ``measured`` (its date) with the original machine and load as they were described: no commit is recorded.
    """
    if measured is None:
        meta: dict[str, Any] = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine_info if machine_info is not None else machine(),
            "load": load_avg if load_avg is not None else load(),
            "commit": git_commit(),
        }
    else:
        meta = {"measured": measured, "machine": machine_info, "load": load_avg}
    doc = {"schema": SCHEMA_VERSION, "name": name, "command": command, **meta}
    if notes:
        doc["notes"] = notes
    doc["results"] = results
    target = (out_dir or RESULTS_DIR) / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return target


def read_result(name: str, results_dir: Path | None = None) -> dict[str, Any]:
    path = (results_dir or RESULTS_DIR) / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def now() -> float:
    return time.perf_counter()
