"""Generation files of the vector layers: listing by pattern, atomic writes (tmp + fsync + rename)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

_NAME = re.compile(r"^(q|qdel|qbase|qcal)-(\d{8})(?:\.(ids|bits|fine))?(?:\.npy)?$")


def gen_files(directory: Path, pattern: re.Pattern[str] = _NAME) -> list[tuple[int, str, str | None, Path]]:
    out = []
    if directory.exists():
        for p in directory.iterdir():
            m = pattern.match(p.name)
            if m:
                out.append((int(m.group(2)), m.group(1), m.group(3), p))
    return sorted(out, key=lambda t: (t[0], t[1]))


def atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
