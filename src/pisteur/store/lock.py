"""Single-writer lock for an index directory (an OS advisory lock: released even on kill -9)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class IndexLocked(RuntimeError):
    pass


class WriterLock:
    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / "writer.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.read(fd, 64).decode(errors="replace").strip()
            finally:
                os.close(fd)
            raise IndexLocked(
                f"another pisteur process (pid {holder or '?'}) is writing to {self.path.parent}; "
                "wait for it to finish (searches keep working meanwhile)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
