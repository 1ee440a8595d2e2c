"""Retrieval quality per vector precision on piaf-dev (real multilingual-e5-small vectors, real qrels).

Not a test. Reads the cached e5 vectors of the 1,518 passages and 1,513 questions (the product's embedding
cache, ``$PISTEUR_CACHE``), builds one vector index per configuration in a temp dir and reports nDCG@10 and
recall@10 of dense retrieval alone (no lexical, no fusion), so only the precision changes.

    nice -n 10 python bench/scale_piaf.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, write_result  # noqa: E402
from scale_data import cached, piaf_dir  # noqa: E402

from pisteur.evaluate.beir import load_dataset  # noqa: E402
from pisteur.evaluate.metrics import ndcg_at, recall_at  # noqa: E402
from pisteur.store.vectors import open_vector_index  # noqa: E402

CONFIGS = [
    ("float32 exact", {"index": "flat", "precision": "float32"}),
    ("float16 exact", {"index": "flat", "precision": "float16"}),
    ("int8 exact", {"index": "flat", "precision": "int8"}),
    ("binary + int8 rescoring (defaults: candidates 6000, R 2000: exhaustive at this size)",
     {"index": "binary", "precision": "binary"}),
    ("binary + int8 rescoring, tight (candidates 100, R 30)",
     {"index": "binary", "precision": "binary", "candidates": 100, "rescore_k": 30}),
    ("binary + int8 rescoring (candidates 200, R 50)",
     {"index": "binary", "precision": "binary", "candidates": 200, "rescore_k": 50}),
    ("binary + float16 rescoring, tight (candidates 100, R 30)",
     {"index": "binary", "precision": "binary", "rescore": "float16", "candidates": 100, "rescore_k": 30}),
    ("binary only (asymmetric, no rescoring; candidates 100)",
     {"index": "binary", "precision": "binary", "rescore": "none", "candidates": 100}),
    ("int8 + IVF (nprobe 8)", {"index": "ivf", "precision": "int8", "nprobe": 8, "rescore_k": 100}),
    ("int8 + HNSW (ef 64)", {"index": "hnsw", "precision": "int8", "ef_search": 64, "rescore_k": 100}),
]


def ndcg_at_10(ranked: list[str], relevant: set[str]) -> float:
    return ndcg_at(ranked, dict.fromkeys(relevant, 1), 10)


def load_piaf() -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, set[str]]]:
    """piaf-dev through the product's BEIR loader: corpus rows, judged queries, relevant doc ids per query."""
    ds = load_dataset(piaf_dir())
    corpus = [{"id": d, "text": row["text"]} for d, row in ds.corpus.items()]
    qrels = {q: {d for d, g in rel.items() if g > 0} for q, rel in ds.qrels.items()}
    queries = [{"id": q, "text": t} for q, t in ds.queries.items() if qrels.get(q)]
    return corpus, queries, qrels


def main() -> None:
    corpus, queries, qrels = load_piaf()
    docs = cached("e5", [c["text"] for c in corpus], False)
    qv = cached("e5", [q["text"] for q in queries], True)
    doc_ids = [c["id"] for c in corpus]
    results = []
    for name, cfg in CONFIGS:
        with tempfile.TemporaryDirectory() as tmp:
            idx = open_vector_index(Path(tmp), docs.shape[1], 0, cfg)
            idx.add(np.arange(len(docs), dtype=np.int64), docs)
            idx.flush(1)
            t0 = time.perf_counter()
            nd, rc = [], []
            for q, v in zip(queries, qv, strict=True):
                ids, _ = idx.search(v, 10)
                ranked = [doc_ids[i] for i in ids]
                nd.append(ndcg_at_10(ranked, qrels[q["id"]]))
                rc.append(recall_at(ranked, dict.fromkeys(qrels[q["id"]], 1), 10))
            ms = (time.perf_counter() - t0) / len(queries) * 1000
            results.append({"config": name, "ndcg@10": round(float(np.mean(nd)) * 100, 2),
                            "recall@10": round(float(np.mean(rc)) * 100, 2), "ms_per_query": round(ms, 2),
                            "disk_kb": idx.nbytes() // 1024})
            print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    print(f"\n{len(queries)} queries, {len(docs)} passages, e5-small 384-d\n")
    print("| configuration | nDCG@10 | recall@10 | ms/query | disk KB |\n|---|---|---|---|---|")
    cols = ["configuration", "nDCG@10", "recall@10", "ms/query", "disk KB"]
    rows = [[r["config"], r["ndcg@10"], r["recall@10"], r["ms_per_query"], r["disk_kb"]] for r in results]
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print(write_result("scale_piaf", command_line(), {"queries": len(queries), "passages": len(docs), "rows": results,
                                                     "tables": {"precisions": {"columns": cols, "rows": rows}}}),
          file=sys.stderr)


if __name__ == "__main__":
    main()
