"""Rich progress for indexing runs (files and chunks, with rate and ETA), on stderr."""

from __future__ import annotations

from typing import Any


class IndexProgress:
    """Callable passed to ``index_paths(progress=...)``; a no-op when disabled (--quiet, --json)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._files: Any = None
        self._chunks: Any = None
        self.chunks_total = 0

    def __enter__(self) -> IndexProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True), transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def __call__(self, event: str, **info: Any) -> None:
        if self._progress is None:
            return
        p = self._progress
        if event == "start":
            self._files = p.add_task("files", total=info.get("files", 0), rate="")
            self._chunks = p.add_task("chunks embedded", total=None, rate="")
        elif event == "file" and self._files is not None:
            p.advance(self._files)
            self.chunks_total += int(info.get("chunks", 0))
            p.update(self._chunks, total=max(self.chunks_total, 1))
        elif event == "embedded" and self._chunks is not None:
            p.advance(self._chunks, info.get("chunks", 0))
            task = p.tasks[self._chunks]
            if task.speed:
                p.update(self._chunks, rate=f"{task.speed:.1f} chunks/s")
