"""Choose the default chunk size/overlap by measurement on piaf-dev.

Each passage is chunked with pisteur's chunker (e5 token counts), every chunk embedded (cached), and a query's
document score is the max over the document's chunks (the product's document-level judgment). Reports nDCG@10
and recall@10 per (model, size, overlap).

    python bench/chunking.py [--piaf DIR] --models e5 use-m3     # DIR default: $PISTEUR_EVAL_DIR/piaf-dev
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import command_line, eval_path, write_result

from pisteur.chunk import split_text
from pisteur.embed import load_embedder
from pisteur.embed.cache import CachedEmbedder
from pisteur.evaluate.beir import load_dataset
from pisteur.evaluate.metrics import ndcg_at, recall_at


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--piaf", type=Path, help="piaf-dev in BEIR layout (default: $PISTEUR_EVAL_DIR/piaf-dev)")
    ap.add_argument("--models", nargs="+", default=["e5", "use-m3"])
    ap.add_argument("--configs", nargs="+", default=["128:16", "192:24", "256:32", "256:0", "384:48", "512:64"])
    a = ap.parse_args()
    ds = load_dataset(eval_path(a.piaf, "piaf-dev"))
    corpus = [{"id": d, "text": doc["text"]} for d, doc in ds.corpus.items()]
    queries, qrels = ds.queries, ds.qrels
    qids = list(ds.judged_queries())
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
    cols = ["model", "size", "overlap", "chunks", "nDCG@10", "recall@10"]
    table = [[r["model"], r["size"], r["overlap"], r["chunks"], r["ndcg@10"], r["recall@10"]] for r in rows]
    tables = {"piaf": {"columns": cols, "rows": table}}
    print(write_result("chunking", command_line(), {"rows": rows, "tables": tables}))


if __name__ == "__main__":
    main()
