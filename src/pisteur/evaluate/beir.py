"""Reading a BEIR-layout dataset folder.

``corpus.jsonl`` (``{"_id"|"id", "title"?, "text"}`` per line), ``queries.jsonl`` (``{"_id"|"id", "text"}``)
and ``qrels.tsv`` (header ``query-id corpus-id score``; BEIR also keeps it as ``qrels/test.tsv``).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    pass


@dataclass
class Dataset:
    name: str
    path: Path
    corpus: dict[str, dict[str, str]]  # doc id -> {"title", "text"}
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: grade}

    def judged_queries(self) -> dict[str, str]:
        """Queries with at least one relevant judged document, in file order."""
        return {q: t for q, t in self.queries.items() if any(g > 0 for g in self.qrels.get(q, {}).values())}


def _jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{n}: invalid JSON ({exc.msg})") from exc
    return rows


def _id(row: dict, path: Path) -> str:
    v = row.get("_id", row.get("id"))
    if v is None:
        raise DatasetError(f"{path}: a row has no '_id' or 'id'")
    return str(v)


def find_qrels(folder: Path, split: str = "test") -> Path:
    for cand in (folder / "qrels.tsv", folder / "qrels" / f"{split}.tsv", folder / f"qrels-{split}.tsv"):
        if cand.exists():
            return cand
    raise DatasetError(f"{folder}: no qrels.tsv (or qrels/{split}.tsv)")


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        for n, row in enumerate(reader, 1):
            if not row or (n == 1 and row[0] in ("query-id", "query_id", "qid")):
                continue
            if len(row) < 3:
                raise DatasetError(f"{path}:{n}: expected 'query-id<TAB>corpus-id<TAB>score'")
            out.setdefault(row[0], {})[row[1]] = int(float(row[2]))
    return out


def load_dataset(folder: Path | str, split: str = "test") -> Dataset:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / name).exists():
            raise DatasetError(
                f"{folder}: {name} is missing (BEIR layout: corpus.jsonl, queries.jsonl, qrels.tsv)"
            )
    corpus = {}
    for row in _jsonl(folder / "corpus.jsonl"):
        corpus[_id(row, folder / "corpus.jsonl")] = {
            "title": str(row.get("title") or ""),
            "text": str(row.get("text") or ""),
        }
    queries = {
        _id(r, folder / "queries.jsonl"): str(r.get("text") or "") for r in _jsonl(folder / "queries.jsonl")
    }
    qrels = load_qrels(find_qrels(folder, split))
    return Dataset(folder.name, folder, corpus, queries, qrels)


def split_queries(qids: list[str], fold: str, seed: str = "pisteur") -> list[str]:
    """Deterministic half split of query ids by hash: ``fold`` = ``train``, ``test`` or ``all``."""
    if fold == "all":
        return list(qids)
    import hashlib

    want = 0 if fold == "train" else 1
    return [q for q in qids if hashlib.blake2b(f"{seed}:{q}".encode(), digest_size=2).digest()[0] % 2 == want]
