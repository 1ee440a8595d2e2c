"""The Milvus engine on piaf-dev (Milvus Lite 2.5.1): insert time and nDCG@10 of dense, BM25 and hybrid search.

Not a test. Real e5-small vectors from the cache (``PISTEUR_CACHE``), real qrels. Two collections: BM25 over
pisteur's own French analysis (``lexical: pisteur``, the default) and over raw text with Milvus's French
analyzer (``lexical: milvus``).

    nice -n 10 python bench/scale_milvus.py [--uri FILE.db] [--queries 500]   # default: a temp Milvus Lite file
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, write_result  # noqa: E402
from scale_data import cached  # noqa: E402
from scale_piaf import load_piaf, ndcg_at_10  # noqa: E402

from pisteur.store.base import SourceState  # noqa: E402
from pisteur.store.milvus import MilvusStore  # noqa: E402
from pisteur.text.analysis import analyze  # noqa: E402
from pisteur.types import Chunk  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", help="Milvus URI or Milvus Lite file (default: a file in a temp dir, deleted)")
    ap.add_argument("--queries", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pisteur-milvus-") as tmp:
        run(args.uri or str(Path(tmp) / "milvus.db"), args.queries)


def run(uri: str, n_queries: int) -> None:
    corpus, queries, qrels = load_piaf()
    queries = queries[:n_queries]
    docs = cached("e5", [c["text"] for c in corpus], False)
    qv = cached("e5", [q["text"] for q in queries], True)
    if "://" not in uri:
        Path(uri).unlink(missing_ok=True)
    store = MilvusStore(uri, readonly=False)
    out = {}
    for lexical in ("pisteur", "milvus"):
        store.chunks, store.src, store.meta_c = (f"p{lexical}_chunks", f"p{lexical}_sources", f"p{lexical}_meta")
        store.create({"model": {"spec": "e5", "dims": 384}, "milvus": {"lexical": lexical}})
        t0 = time.perf_counter()
        with store.writer() as w:
            for start in range(0, len(corpus), 100):
                part = corpus[start : start + 100]
                st = SourceState(path=f"piaf-{start // 100}", size=0, mtime_ns=0, fingerprint="", reader="bench")
                w.upsert_source(st, [Chunk(text=c["text"], kind="document", meta={"doc": c["id"]}) for c in part],
                                docs[start : start + 100], ids=list(range(start, start + len(part))))
        insert_s = time.perf_counter() - t0
        raw = lexical == "milvus"

        def text(i: int, raw: bool = raw) -> str:
            return queries[i]["text"] if raw else " ".join(analyze(queries[i]["text"]))

        modes = {
            "dense": lambda i: store.dense_search(qv[i], 10),
            "bm25": lambda i: store.lexical_search_text(text(i), 10),
            "hybrid rrf": lambda i: store.hybrid_search(qv[i], text(i), 10),
            "hybrid weighted 0.7/0.3": lambda i: store.hybrid_search(qv[i], text(i), 10, ranker="weighted",
                                                                     weights=(0.7, 0.3)),
        }
        for name, fn in modes.items():
            if name == "dense" and lexical == "milvus":
                continue
            t0 = time.perf_counter()
            nd = [ndcg_at_10([corpus[i]["id"] for i, _ in fn(j)], qrels[q["id"]]) for j, q in enumerate(queries)]
            ms = (time.perf_counter() - t0) / len(queries) * 1000
            key = f"{name} (lexical={lexical})"
            out[key] = {"ndcg@10": round(float(np.mean(nd)) * 100, 2), "ms": round(ms, 1),
                        "insert_s": round(insert_s, 1)}
            print(key, out[key], flush=True)
    store.close()
    print(f"\n{len(queries)} queries, {len(corpus)} passages\n\n| search | nDCG@10 | ms/query |\n|---|---|---|")
    rows = [[k, v["ndcg@10"], v["ms"]] for k, v in out.items()]
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    table = {"columns": ["search", "nDCG@10", "ms/query"], "rows": rows}
    print(write_result("scale_milvus", command_line(), {"queries": len(queries), "passages": len(corpus),
                                                       "searches": out, "tables": {"piaf": table}}), file=sys.stderr)


if __name__ == "__main__":
    main()
