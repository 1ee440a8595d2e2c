"""Reader throughput: discover + read every file under the given folders (no chunking, no embedding).

    nice python bench/ingest_read.py [PATH ...] [--repeat 5]      # default: bench/data/claude-sessions

Prints files, bytes, segments by kind, and the best wall time of the repeats (MB/s, lines/s).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from _common import DATA_DIR, command_line, write_result

from pisteur.ingest import discover, read
from pisteur.types import SkipFile


def run(paths: list[Path]) -> tuple[float, int, int, Counter, int]:
    t0 = time.perf_counter()
    files, skipped = discover(paths)
    kinds: Counter = Counter()
    size = lines = 0
    for path, reader in files:
        try:
            result = read(path, reader)
        except SkipFile:
            continue
        kinds.update(s.kind for s in result.segments)
    elapsed = time.perf_counter() - t0
    for path, _ in files:
        data = path.read_bytes()
        size += len(data)
        lines += data.count(b"\n")
    return elapsed, size, lines, kinds, len(files)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="*", type=Path, default=[DATA_DIR / "claude-sessions"])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    best = None
    for _ in range(args.repeat):
        res = run(args.paths)
        best = res if best is None or res[0] < best[0] else best
    assert best is not None
    elapsed, size, lines, kinds, nfiles = best
    print(f"files={nfiles} bytes={size} lines={lines} segments={sum(kinds.values())} {dict(kinds)}")
    print(f"best of {args.repeat}: {elapsed:.3f} s  {size / elapsed / 1e6:.1f} MB/s  {lines / elapsed:,.0f} lines/s")
    print(write_result("ingest_read", command_line(), {
        "files": nfiles, "bytes": size, "lines": lines, "segments": dict(kinds), "repeat": args.repeat,
        "best_s": round(elapsed, 4), "mb_per_s": round(size / elapsed / 1e6, 2),
        "lines_per_s": round(lines / elapsed)}))


if __name__ == "__main__":
    main()
