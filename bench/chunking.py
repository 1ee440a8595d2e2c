"""Choose the default chunk size/overlap by measurement on piaf-dev (issue 2, item 5).

Each passage is chunked with pisteur's chunker (e5 token counts), every chunk embedded (cached), and a query's
document score is the max over the document's chunks (the product's document-level judgment). Reports nDCG@10
and recall@10 per (model, size, overlap).

    PISTEUR_CACHE=/work/cache python bench/chunking.py --shared ../shared --models e5 use-m3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from pisteur.chunk import split_text
from pisteur.embed import load_embedder
from pisteur.embed.cache import CachedEmbedder
from pisteur.evaluate.metrics import ndcg_at, recall_at


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--models", nargs="+", default=["e5", "use-m3"])
    ap.add_argument("--configs", nargs="+", default=["128:16", "192:24", "256:32", "256:0", "384:48", "512:64"])
    a = ap.parse_args()
    d = a.shared / "eval/piaf-dev"
    corpus = [json.loads(line) for line in open(d / "corpus.jsonl", encoding="utf-8")]
    queries = {r["id"]: r["text"] for r in map(json.loads, open(d / "queries.jsonl", encoding="utf-8"))}
    qrels: dict[str, dict[str, int]] = {}
    for line in list(open(d / "qrels.tsv", encoding="utf-8"))[1:]:
        q, doc, s = line.split("\t")
        qrels.setdefault(q, {})[doc] = int(s)
    qids = [q for q in queries if q in qrels]
    counter = load_embedder("e5", workers=1)
    rows = []
    for spec in a.models:
        emb = CachedEmbedder(load_embedder(spec))
        qv = emb.embed_queries([queries[q] for q in qids])
        for cfg in a.configs:
            size, overlap = map(int, cfg.split(":"))
            texts, owner = [], []
            for doc in corpus:
                for piece in split_text(doc["text"], size, overlap, counter.count_tokens):
                    texts.append(piece)
                    owner.append(doc["id"])
            t = time.perf_counter()
            dv = emb.embed_documents(texts)
            embed_s = time.perf_counter() - t
            owner_arr = np.array(owner)
            uniq, inv = np.unique(owner_arr, return_inverse=True)
            scores = qv @ dv.T
            nd, rc = [], []
            for qi, q in enumerate(qids):
                best = np.full(len(uniq), -np.inf, np.float32)
                np.maximum.at(best, inv, scores[qi])
                ranking = list(uniq[np.argsort(-best)[:10]])
                nd.append(ndcg_at(ranking, qrels[q], 10))
                rc.append(recall_at(ranking, qrels[q], 10))
            row = {"model": spec, "size": size, "overlap": overlap, "chunks": len(texts),
                   "ndcg@10": round(float(np.mean(nd)), 4), "recall@10": round(float(np.mean(rc)), 4),
                   "embed_s": round(embed_s, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        emb.close()
    print("\n| model | size | overlap | chunks | nDCG@10 | recall@10 |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['size']} | {r['overlap']} | {r['chunks']} | {r['ndcg@10']} | {r['recall@10']} |")


if __name__ == "__main__":
    main()
