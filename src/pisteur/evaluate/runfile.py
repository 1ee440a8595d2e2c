"""TREC run files: ``qid Q0 docid rank score tag``, one line per (query, document), best first."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path


def _tag(tag: str) -> str:
    return re.sub(r"\s+", "_", tag) or "pisteur"


def format_run(run: Mapping[str, Sequence[tuple[str, float]]], tag: str) -> str:
    lines = []
    t = _tag(tag)
    for qid, ranking in run.items():
        seen: set[str] = set()
        rank = 0
        for doc, score in ranking:
            if doc in seen:
                continue
            seen.add(doc)
            rank += 1
            lines.append(f"{qid} Q0 {doc} {rank} {score:.6f} {t}")
    return "\n".join(lines) + ("\n" if lines else "")


def write_run(path: Path | str, run: Mapping[str, Sequence[tuple[str, float]]], tag: str) -> None:
    Path(path).write_text(format_run(run, tag), encoding="utf-8")


def read_run(path: Path | str) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6:
            raise ValueError(f"{path}:{n}: expected 'qid Q0 docid rank score tag'")
        out.setdefault(parts[0], []).append((parts[2], float(parts[4])))
    return out
