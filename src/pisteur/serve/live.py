"""Live index: keep the index fresh while the server runs, without ever indexing pisteur's own output.

A background thread polls the sources' sizes and mtimes (every ~2 s; no dependency, works on every
filesystem) and runs an incremental ``index_paths`` pass when something changed (an appended session is
re-read from its last exchange only). The pass writes through its own store connection and commits in
batches; searches keep reading the last committed generation meanwhile (SQLite WAL) and pick up the new one
with ``store.refresh()``. A pass never overlaps another; a lock held by a CLI ``pisteur index`` makes the pass
wait for the next tick.

Self-echo: when Claude Code calls pisteur's MCP tools, the results (hits from past sessions) are written
into the current session as tool results. Indexing them would make every search result a new document that
matches the same queries next time (a peer's memory grew without bound that way). ``keep_segment`` drops
them: tool results of ``mcp__pisteur__*`` tools (or carrying pisteur's ``"origin": "pisteur"`` stamp), and
exchanges made of nothing but calls to those tools.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("pisteur.serve.live")

from pisteur.ingest.self_echo import SELF_TOOL_PREFIX, is_self_echo, keep_segment  # noqa: F401,E402


def snapshot(paths: Sequence[Path]) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file under ``paths`` (hidden folders skipped)."""
    out: dict[str, tuple[int, int]] = {}
    for root in paths:
        root = Path(root).expanduser()
        if root.is_file():
            st = root.stat()
            out[str(root)] = (st.st_size, st.st_mtime_ns)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                p = os.path.join(dirpath, name)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                out[p] = (st.st_size, st.st_mtime_ns)
    return out


class LiveIndexer:
    def __init__(
        self,
        index_dir: Path,
        sources: Sequence[Path],
        *,
        interval: float = 2.0,
        model: str | None = None,
        index_options: dict[str, Any] | None = None,
        on_commit: Callable[[], None] | None = None,
        run_index: Callable[..., Any] | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.sources = [Path(p).expanduser() for p in sources]
        self.interval = interval
        self.model = model
        self.index_options = dict(index_options or {})
        self.on_commit = on_commit
        self._run_index = run_index
        self._embedder: Any = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snap: dict[str, tuple[int, int]] | None = None
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {
            "enabled": True, "sources": [str(p) for p in self.sources], "interval_s": interval,
            "running": False, "runs": 0, "errors": 0, "last_error": None, "last_run": None,
            "last_duration_s": None, "last_report": None, "progress": None, "files_total": 0,
            "files_done": 0, "current": None, "waiting_for_lock": False,
        }

    # -- control ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="pisteur-live-index", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        close = getattr(self._embedder, "close", None)
        if close:
            close()

    def trigger(self) -> bool:
        """Ask for a pass now; False if one is already running (another follows it)."""
        running = self._state["running"]
        self._snap = None
        self._wake.set()
        return not running

    def state(self) -> dict[str, Any]:
        """The indexer's state; ``phase`` says in one word what the page shows: indexing, waiting_for_lock
        (another process holds the index's lock), pending (no pass finished yet), error, up_to_date."""
        with self._lock:
            s = dict(self._state)
        if s["running"]:
            s["phase"] = "indexing"
        elif s["waiting_for_lock"]:
            s["phase"] = "waiting_for_lock"
        elif s["last_error"]:
            s["phase"] = "error"
        elif not s["runs"]:
            s["phase"] = "pending"
        else:
            s["phase"] = "up_to_date"
        return s

    def _set(self, **kv: Any) -> None:
        with self._lock:
            self._state.update(kv)

    # -- loop ------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                snap = snapshot([p for p in self.sources if p.exists()])
                if snap != self._snap or self._state.get("dense_pending"):  # changed, or vectors to finish
                    if self.run_once():
                        self._snap = snap
            except Exception as exc:  # keep watching whatever happens
                log.exception("live indexing pass failed")
                self._set(errors=self._state["errors"] + 1, last_error=f"{type(exc).__name__}: {exc}")
                self._snap = None
            self._wake.wait(self.interval)
            self._wake.clear()

    def _progress(self, event: str, **kw: Any) -> None:
        if event == "start":
            self._set(files_total=int(kw.get("files", 0)), files_done=0, progress=0.0)
        elif event == "file":
            with self._lock:
                s = self._state
                s["files_done"] += 1
                s["current"] = kw.get("path")
                s["progress"] = round(s["files_done"] / s["files_total"], 4) if s["files_total"] else None

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            from pisteur.embed import load_embedder
            from pisteur.store import manifest as mf

            existing = mf.read(self.index_dir) or {}
            model = existing.get("model") or {}
            spec = self.model or model.get("spec")
            opts = model.get("options", {}) if not self.model else {}
            self._embedder = load_embedder(spec, **opts)
        return self._embedder

    def _index(self, sources: list[Path]) -> Any:
        from pisteur.indexer import index_paths
        from pisteur.store.manifest import ManifestMismatch

        for attempt in (0, 1):
            try:
                return index_paths(self.index_dir, sources, segment_filter=keep_segment, progress=self._progress,
                                   embedder=self._get_embedder(), **{"dense_seconds": 30.0, **self.index_options})
            except ManifestMismatch:
                # the index was rebuilt with another model since this embedder was loaded: follow it
                if attempt or self.model is not None or self._embedder is None:
                    raise
                close = getattr(self._embedder, "close", None)
                if close:
                    close()
                self._embedder = None
        raise AssertionError("unreachable")

    def run_once(self) -> bool:
        """One incremental pass over the sources; False if another writer held the lock."""
        from pisteur.store.lock import IndexLocked

        sources = [p for p in self.sources if p.exists()]
        if not sources:
            return True
        t0 = time.perf_counter()
        self._set(running=True, progress=0.0, files_done=0, files_total=0, current=None, waiting_for_lock=False)
        try:
            if self._run_index is not None:
                report = self._run_index(self.index_dir, sources, progress=self._progress)
            else:
                report = self._index(sources)
        except IndexLocked:
            self._set(waiting_for_lock=True)
            return False
        finally:
            self._set(running=False, current=None)
        dt = time.perf_counter() - t0
        rep = report.to_json() if hasattr(report, "to_json") else report
        if isinstance(rep, dict) and len(rep.get("skipped", [])) > 20:
            rep = {**rep, "skipped": rep["skipped"][:20]}
        self._set(runs=self._state["runs"] + 1, last_run=time.strftime("%Y-%m-%dT%H:%M:%S"),
                  last_duration_s=round(dt, 3), last_report=rep, progress=1.0, waiting_for_lock=False,
                  last_error=None, dense_pending=rep.get("dense_pending", 0) if isinstance(rep, dict) else 0)
        if self.on_commit is not None:
            self.on_commit()
        return True
