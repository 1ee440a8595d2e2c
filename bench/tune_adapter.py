"""The query adapter on synthetic held-out queries only (no labelled question is read): its similarity scale,
and how far an adapter trained on one index carries over to another index's synthetic queries (how much it
learns the generator's query style rather than the corpus).

    python bench/tune_adapter.py INDEX_DIR... [--model e5onnx:multilingual-e5-small] [--scales 20,50,70,100]

Each INDEX_DIR is a pisteur index made with --model (e.g. the bench indexes under tune_piaf.py's --cache, or
`pisteur index FILES -i DIR`). Scores: macro average over query kinds of the dense list's nDCG@10
(``tune/judge.py``). Writes bench/results/tune_adapter.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from tune_common import load_avg, write_result  # noqa: E402

from pisteur.embed import load_embedder  # noqa: E402
from pisteur.store import open_store  # noqa: E402
from pisteur.tune import adapter as ad  # noqa: E402
from pisteur.tune.judge import Judge  # noqa: E402
from pisteur.tune.pipeline import dense_ndcg  # noqa: E402
from pisteur.tune.synth import MakeOptions, make_set, read_docs  # noqa: E402


def prepare(index: Path, emb: Any, max_queries: int) -> dict[str, Any]:
    store = open_store(index)
    synth = make_set(store, emb, MakeOptions(max_queries=max_queries))
    _, owner = read_docs(store)
    train, test = synth.split("train"), synth.split("test")
    judge = Judge([q.kind for q in test])
    base = judge.score(dense_ndcg(store, test, synth.vectors))
    triples = ad.mine(store, train, synth.vectors, owner, 2)
    return {"store": store, "synth": synth, "test": test, "judge": judge, "base": base, "triples": triples}


def held_out(c: dict[str, Any], adapter: ad.Adapter) -> float:
    return c["judge"].score(dense_ndcg(c["store"], c["test"], c["synth"].vectors, adapter))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("indexes", type=Path, nargs="+")
    ap.add_argument("--model", default="e5onnx:multilingual-e5-small")
    ap.add_argument("--scales", default="20,50,70,100")
    ap.add_argument("--max-queries", type=int, default=2000)
    args = ap.parse_args()
    emb = load_embedder(args.model, workers=1)
    corpora = {p.name: prepare(p, emb, args.max_queries) for p in args.indexes}
    out: dict[str, Any] = {"model": emb.name, "base": {}, "scale": {}, "transfer": {}}
    for name, c in corpora.items():
        out["base"][name] = round(c["base"], 4)
        out["scale"][name] = {}
        for s in args.scales.split(","):
            a, info = ad.train(c["triples"], ad.AdapterOptions(scale=float(s)))
            out["scale"][name][s] = round(held_out(c, a), 4)
            print(f"{name:40s} scale {s:>4s}: {c['base']:.4f} -> {out['scale'][name][s]:.4f}", flush=True)
    adapters = {n: ad.train(c["triples"], ad.AdapterOptions())[0] for n, c in corpora.items()}
    for src, a in adapters.items():
        for dst, c in corpora.items():
            gain = round(held_out(c, a) - c["base"], 4)
            out["transfer"][f"{src} -> {dst}"] = gain
            print(f"adapter of {src} on {dst}: {gain:+.4f}", flush=True)
    for c in corpora.values():
        c["store"].close()
    out["load_after"] = load_avg()
    print(f"written {write_result('tune_adapter', '', out)}")


if __name__ == "__main__":
    main()
