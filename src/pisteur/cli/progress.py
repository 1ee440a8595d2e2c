"""Rich progress for indexing runs, on stderr: one bar per phase, each with a real total.

``searchable``: the read phase, over the bytes to read (known before it starts), with the chunks stored so
far; ``dense``: the dense phase, over the chunks waiting for a vector (known when it starts). The ETA
comes from the rate measured in this run. A phase with nothing to do shows no bar.
"""

from __future__ import annotations

from typing import Any


class IndexProgress:
    """Callable passed to ``index_paths(progress=...)``; a no-op when disabled (--quiet, --json)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._read: Any = None
        self._dense: Any = None
        self.bytes_total = 0
        self.chunks_stored = 0
        self.dense_total = 0
        self.dense_done = 0

    def __enter__(self) -> IndexProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[count]}"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True), transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def _read_label(self, done: float) -> str:
        return f"{done / 1e6:.1f}/{self.bytes_total / 1e6:.1f} MB, {self.chunks_stored} chunks"

    def __call__(self, event: str, **info: Any) -> None:
        p = self._progress
        if p is None:
            return
        if event == "start" and info.get("files"):
            self.bytes_total = max(int(info.get("bytes", 0)), 1)
            self._read = p.add_task("searchable", total=self.bytes_total, count=self._read_label(0), rate="")
        elif event == "file" and self._read is not None:
            p.advance(self._read, int(info.get("bytes", 0)))
            p.update(self._read, count=self._read_label(p.tasks[self._read].completed))
        elif event == "stored" and self._read is not None:
            self.chunks_stored += int(info.get("chunks", 0))
            p.update(self._read, count=self._read_label(p.tasks[self._read].completed))
        elif event == "searchable" and self._read is not None:
            p.update(self._read, completed=self.bytes_total, count=self._read_label(self.bytes_total))
        elif event == "dense_start" and info.get("chunks"):
            self.dense_total = int(info["chunks"])
            self._dense = p.add_task("dense", total=self.dense_total, count=f"0/{self.dense_total} chunks",
                                     rate="")
        elif event == "dense" and self._dense is not None:
            self.dense_done += int(info.get("chunks", 0))
            p.advance(self._dense, int(info.get("chunks", 0)))
            speed = p.tasks[self._dense].speed
            p.update(self._dense, count=f"{self.dense_done}/{self.dense_total} chunks",
                     rate=f"{speed:.1f} chunks/s" if speed else "")


def dense_line(stats: dict[str, Any]) -> str | None:
    """One line on dense coverage for ``status`` and the index summary (None when complete)."""
    pending, failed = stats.get("chunks_dense_pending", 0), stats.get("chunks_dense_failed", 0)
    if not pending and not failed:
        return None
    cov = 100 * float(stats.get("dense_coverage", 1.0))
    parts = [f"dense vectors for {stats.get('chunks_dense', 0)} of {stats.get('chunks', 0)} chunks ({cov:.0f} %)"]
    if pending:
        parts.append(f"{pending} waiting (the next `pisteur index` or the live indexer embeds them; "
                     "lexical search already finds them)")
    if failed:
        parts.append(f"{failed} the embedder failed on (lexical only)")
    return "; ".join(parts)
