"""Which chunks must be dense? Session-query quality with every chunk dense vs with tool outputs lexical only
(the state of an index whose dense pass has done conversation turns, summaries and thinking but not yet
tool outputs, which it does last); and with identical hits collapsed or not.

    python bench/dense_policy.py SESSIONS_DIR QUERIES_DIR --index IDX [--model use-m3]
        [--out bench/results/dense_policy.json]

QUERIES_DIR holds ``queries.jsonl`` and ``qrels/test.tsv`` whose corpus ids are Claude Code message uuids;
a hit answers a query when its ``uuids`` contain a judged uuid. The index is built once (``pisteur index``
path, reused when it exists); the variant is a copy with the tool outputs' vectors removed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
from _common import command_line, write_result

from pisteur.indexer import index_paths
from pisteur.retrieve.pipeline import search
from pisteur.store import open_store
from pisteur.store.local import LocalStore

K = 10


def load_queries(qdir: Path) -> tuple[dict[str, str], dict[str, set[str]]]:
    queries = {}
    for line in (qdir / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            queries[q["_id"]] = q["text"]
    qrels: dict[str, set[str]] = {}
    for line in (qdir / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) >= 2:
            qrels.setdefault(parts[0], set()).add(parts[1])
    return queries, qrels


def evaluate(idx: Path, queries: dict[str, str], qrels: dict[str, set[str]]) -> dict[str, float]:
    from pisteur.embed import embedder_for_manifest

    store = open_store(idx)
    emb = embedder_for_manifest(store.manifest(), workers=1)
    hits_at, rr = 0, 0.0
    for qid, text in queries.items():
        want = qrels.get(qid, set())
        res = search(store, emb, text, k=K)
        rank = next((r for r, h in enumerate(res.hits, 1) if want & set(h.meta.get("uuids") or [])), None)
        hits_at += rank is not None
        rr += 1.0 / rank if rank else 0.0
    n = len(queries)
    return {"queries": n, "success@10": round(hits_at / n, 4), "mrr@10": round(rr / n, 4),
            "dense_coverage": store.dense_coverage()}


def without_tool_vectors(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    store = LocalStore(dst, readonly=False)
    with store.writer() as w:
        ids = [i for (i,) in store.con.execute("SELECT id FROM chunks WHERE kind='tool_result' AND dense=1")]
        store.vector_index.remove(np.asarray(ids, np.int64))
        store.con.execute("UPDATE chunks SET dense=0 WHERE kind='tool_result'")
        w.dirty = True
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sessions", type=Path)
    ap.add_argument("queries", type=Path)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--model", default="use-m3")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "dense_policy.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rep = index_paths(args.index, [args.sessions], model=args.model)
    built = round(time.perf_counter() - t0, 1)
    queries, qrels = load_queries(args.queries)
    results = {"all_dense": evaluate(args.index, queries, qrels)}
    import pisteur.retrieve.pipeline as pipeline

    keep = pipeline.finish
    pipeline.finish = lambda store, result: result  # today's results: identical texts not collapsed
    results["all_dense_not_collapsed"] = evaluate(args.index, queries, qrels)
    pipeline.finish = keep
    variant = args.index.with_name(args.index.name + "-no-tool-vectors")
    without_tool_vectors(args.index, variant)
    results["tool_outputs_lexical_only"] = evaluate(variant, queries, qrels)
    st = open_store(args.index).stats()
    doc = {"model": args.model, "index_seconds": built, "chunks_by_kind": st["chunks_by_kind"],
           "chunks_embedded": rep.chunks_embedded, **results}
    print(json.dumps(doc, indent=1))
    print(write_result(args.out.stem, command_line(), doc, out_dir=args.out.parent))


if __name__ == "__main__":
    main()
