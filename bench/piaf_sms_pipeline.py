"""The SMS abbreviation task through the *product* pipeline (store + fusion + rerank), not an in-memory BM25.

    PISTEUR_CACHE=/work/cache nice python bench/piaf_sms_pipeline.py /work/shared/eval/sms-dev [--k 20]

Queries and targets are those of ``bench/sms_expansion.py`` (the expansion helper's bench): for a standard-form
query, the targets are the SMS whose hand normalisation has the query's words while the raw SMS has not. The 500
raw SMS are indexed (one ``message`` chunk each, e5 vectors) in a temporary folder that is deleted at the end;
no message is printed or kept. Score: targets within the top ``k`` of ``search()`` per configuration.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from sms_expansion import BRIEF_QUERIES, QUERIES, load_pairs, targets  # noqa: E402

from pisteur.chunk import ChunkerConfig  # noqa: E402
from pisteur.embed import load_embedder  # noqa: E402
from pisteur.embed.cache import CachedEmbedder  # noqa: E402
from pisteur.evaluate.qcache import QueryCachedEmbedder  # noqa: E402
from pisteur.indexer import wanted_manifest  # noqa: E402
from pisteur.retrieve.pipeline import search  # noqa: E402
from pisteur.store import open_store  # noqa: E402
from pisteur.store.base import SourceState  # noqa: E402
from pisteur.types import KIND_MESSAGE, Chunk  # noqa: E402

CONFIGS = {
    "hybrid, no expansion, no rerank": {"expand": False, "rerank": "none"},
    "hybrid + expansion, no rerank": {"rerank": "none"},
    "default (hybrid + expansion + rerank)": {},
    "bm25 + expansion": {"mode": "lexical", "rerank": "none"},
    "bm25 + expansion + rerank": {"mode": "lexical"},
}

VARIANTS = {
    "default, expansion merged into BM25": {"expand_lexical": "merge"},
    "default, merged + own list": {"expand_lexical": "both"},
    "default, dense fill": {"fill": "all"},
    "default, merged + dense fill": {"expand_lexical": "merge", "fill": "all"},
    "default, both + dense fill": {"expand_lexical": "both", "fill": "all"},
    "default, both + dense fill, exp 1.0": {
        "expand_lexical": "both",
        "fill": "all",
        "weights": {"expansion": 1.0},
    },
}


def grid() -> dict[str, dict]:
    out = {}
    out["default"] = {}
    out["default + expand_dense"] = {"expand_dense": True}
    out["default + expand_dense, dense 0.5"] = {"expand_dense": True, "weights": {"dense": 0.5}}
    out["default, dense 0.5"] = {"weights": {"dense": 0.5}}
    if os.environ.get("SMS_FULL_GRID") != "1":
        return out
    for fusion, norm in (("weighted", "zscore"), ("weighted", "minmax"), ("rrf", "zscore")):
        for how in ("list", "both", "merge"):
            for wx in (0.5, 1.0, 2.0):
                for wl in (1.0, 2.0):
                    if how == "merge" and wx != 0.5:
                        continue
                    name = f"{fusion}-{norm if fusion == 'weighted' else ''} {how} lex={wl} exp={wx}"
                    out[name] = {
                        "fusion": fusion,
                        "norm": norm,
                        "expand_lexical": how,
                        "rerank": "none",
                        "weights": {"lexical": wl, "expansion": wx},
                    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--weights-expansion", type=float, nargs="*", default=[])
    ap.add_argument("--variants", action="store_true", help="also run fusion variants (merge, fill, ...)")
    ap.add_argument("--grid", action="store_true", help="only a grid of first-stage fusion settings (no rerank)")
    args = ap.parse_args()
    pairs = load_pairs(args.folder)
    emb = load_embedder("e5", workers=1)
    cached = CachedEmbedder(emb)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "idx", readonly=False)
        vecs = cached.embed_documents([p["raw"] for p in pairs])
        with store.writer() as w:
            w.set_manifest(wanted_manifest(emb, ChunkerConfig(), {"index": "flat", "precision": "float32"}, {}))
            store._vec = None
            store.refresh()
            for i, p in enumerate(pairs):
                ch = Chunk(text=p["raw"], kind=KIND_MESSAGE, meta={"n": i})
                w.upsert_source(
                    SourceState(path=f"sms/{i}", size=0, mtime_ns=0, fingerprint="", reader="sms"),
                    [ch],
                    vecs[i : i + 1],
                )
        store.close()
        store = open_store(Path(tmp) / "idx")
        qemb = QueryCachedEmbedder(emb)
        configs = dict(CONFIGS)
        if args.variants:
            configs.update(VARIANTS)
        if args.grid:
            configs = grid()
        for wx in args.weights_expansion:
            configs[f"default, expansion weight {wx}"] = {"weights": {"expansion": wx}}
        tq = {q: set(targets(pairs, q)) for q in QUERIES}
        total = sum(len(t) for t in tq.values())
        brief_total = sum(len(tq[q]) for q in BRIEF_QUERIES)
        print(f"{len(QUERIES)} queries, {total} targets (issue examples: {brief_total}); top {args.k}")
        for name, opts in configs.items():
            found = brief = 0
            for q, tset in tq.items():
                if not tset:
                    continue
                res = search(store, qemb, q, k=args.k, **opts)
                got = {h.meta["n"] for h in res.hits} & tset
                found += len(got)
                brief += len(got) if q in BRIEF_QUERIES else 0
            print(
                f"{name:45s} {found}/{total} = {found / total:.1%}   issue examples {brief}/{brief_total} "
                f"= {brief / max(brief_total, 1):.1%}",
                flush=True,
            )
        store.close()


if __name__ == "__main__":
    main()
