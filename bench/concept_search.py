"""Concept queries on French chat messages: does a query naming a kind of abuse find messages that ARE it?

    python bench/concept_search.py [--data FOLDER] [--models e5-small use-m3] [--splits tuning heldout]
                                   [--concepts on off] [--out NAME]

The set (default: the CC0 fixture ``tests/fixtures/concept-chat``, see its README) is indexed half by half with
the product's CLI (``pisteur index``, the messages as a CSV export); every query of ``queries.tsv`` runs through
the product's search (``pisteur.retrieve.pipeline.search``, today's defaults) on each half. A hit is relevant
when its message carries one of the query's concepts in ``labels.tsv``; messages that only talk about the act
are not. Metrics per query: P@10 (capped: relevant hits in the top 10 over min(10, relevant messages in the
half), so a concept with 6 messages in a half can reach 1.0) and nDCG@10 (binary gains). ``--concepts off``
runs the same searches with the concept step turned off (``concepts=False``): the baseline.
Writes ``bench/results/NAME.json`` (default ``concept_search``).
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import REPO_DIR, BenchError, command_line, write_result

K = 10
DEFAULT_DATA = REPO_DIR / "tests" / "fixtures" / "concept-chat"


@dataclass(frozen=True)
class Query:
    text: str
    concepts: frozenset[str]
    set: str  # "tuning" (used while tuning) or "heldout" (kept for the end)


@dataclass(frozen=True)
class ChatSet:
    texts: dict[str, str]  # id -> message
    labels: dict[str, frozenset[str]]
    split: dict[str, str]
    queries: list[Query]


def _tsv(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise BenchError(f"{path} is missing (the concept chat set)")
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]


def load_set(folder: Path) -> ChatSet:
    with (folder / "messages.csv").open(encoding="utf-8", newline="") as f:
        texts = {r["id"]: r["text"] for r in csv.DictReader(f)}
    rows = _tsv(folder / "labels.tsv")
    labels = {r[0]: frozenset(x for x in (r[1] if len(r) > 1 else "").split(",") if x) for r in rows}
    split = {r[0]: r[1] for r in _tsv(folder / "split.tsv")}
    queries = [Query(r[0], frozenset(r[1].split(",")), r[2]) for r in _tsv(folder / "queries.tsv")]
    return ChatSet(texts, labels, split, queries)


def write_half(data: ChatSet, half: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"chat-{half}.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        for mid, text in data.texts.items():
            if data.split[mid] == half:
                w.writerow([mid, text])


def index(folder: Path, idx: Path, model: str) -> None:
    cmd = [sys.executable, "-m", "pisteur.cli", "index", str(folder), "--index", str(idx), "--quiet", "--model", model]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"pisteur index failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")


def score(ranked: Sequence[str], relevant: set[str]) -> dict[str, float]:
    top = list(ranked[:K])
    hits = [1.0 if mid in relevant else 0.0 for mid in top]
    dcg = sum(g / math.log2(r + 2) for r, g in enumerate(hits))
    ideal = sum(1 / math.log2(r + 2) for r in range(min(K, len(relevant))))
    return {"p10": sum(hits) / max(1, min(K, len(relevant))), "ndcg10": dcg / ideal if ideal else 0.0}


def run_half(data: ChatSet, half: str, model: str, concepts: bool, work: Path) -> list[dict[str, Any]]:
    from pisteur.embed import embedder_for_manifest
    from pisteur.retrieve.pipeline import search
    from pisteur.store import open_store

    folder, idx = work / f"{half}-data", work / f"{half}-{model.replace(':', '_')}"
    write_half(data, half, folder)
    if not idx.exists():
        index(folder, idx, model)
    store = open_store(idx)
    embedder = embedder_for_manifest(store.manifest(), lazy=True, workers=1)
    by_text = {t: mid for mid, t in data.texts.items() if data.split[mid] == half}
    rows = []
    for q in data.queries:
        hits = search(store, embedder, q.text, k=K, concepts=concepts).hits
        ranked = [by_text.get(h.text.strip(), "?") for h in hits]
        relevant = {m for m in by_text.values() if data.labels[m] & q.concepts}
        rows.append({"query": q.text, "set": q.set, "relevant": len(relevant), **score(ranked, relevant),
                     "top10": [f"{m}{'+' if m in relevant else '-'}" for m in ranked]})
    return rows


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, group in (("all", rows), *((s, [r for r in rows if r["set"] == s]) for s in ("tuning", "heldout"))):
        if group:
            out[f"{name}_queries"] = {m: round(sum(r[m] for r in group) / len(group), 3) for m in ("p10", "ndcg10")}
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the concept chat set folder")
    p.add_argument("--models", nargs="+", default=["e5-small", "use-m3"])
    p.add_argument("--splits", nargs="+", default=["tuning"], choices=["tuning", "heldout"])
    p.add_argument("--concepts", nargs="+", default=["off", "on"], choices=["off", "on"])
    p.add_argument("--out", default="concept_search", help="result file name (bench/results/NAME.json)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    data = load_set(args.data)
    results: dict[str, Any] = {"k": K, "messages": {s: sum(v == s for v in data.split.values()) for s in args.splits}}
    with tempfile.TemporaryDirectory(prefix="pisteur-concepts-") as tmp:
        for model in args.models:
            for half in args.splits:
                for mode in args.concepts:
                    rows = run_half(data, half, model, mode == "on", Path(tmp))
                    key = f"{model}/{half}/concepts-{mode}"
                    results[key] = {"summary": summary(rows), "per_query": rows}
                    print(key, summary(rows), flush=True)
    write_result(args.out, command_line(), results)
    return results


if __name__ == "__main__":
    main()
