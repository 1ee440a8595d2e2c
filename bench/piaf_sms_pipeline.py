"""The SMS abbreviation task through the *product* pipeline (store + fusion + rerank), not an in-memory BM25.

    nice python bench/piaf_sms_pipeline.py [SMS_DEV] [--k 20] [--held-out]   # default $PISTEUR_EVAL_DIR/sms-dev

Queries and targets are those of ``bench/sms_expansion.py``: for a standard-form
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
import random  # noqa: E402

from _common import Tables, command_line, eval_path, write_result  # noqa: E402
from sms_expansion import (  # noqa: E402
    BRIEF_QUERIES,
    CONCEPT_QUERIES,
    INSULTS,
    MENTIONS,
    QUERIES,
    THREATS,
    _standard,
    load_pairs,
    mined_dictionary,
    targets,
)

from pisteur.chunk import ChunkerConfig  # noqa: E402
from pisteur.embed import load_embedder  # noqa: E402
from pisteur.embed.cache import CachedEmbedder  # noqa: E402
from pisteur.evaluate.qcache import QueryCachedEmbedder  # noqa: E402
from pisteur.indexer import wanted_manifest  # noqa: E402
from pisteur.retrieve.expand import Dictionaries, load_dictionaries  # noqa: E402
from pisteur.retrieve.pipeline import search  # noqa: E402
from pisteur.store import open_store  # noqa: E402
from pisteur.store.base import SourceState  # noqa: E402
from pisteur.types import KIND_MESSAGE, Chunk  # noqa: E402

TABLES = Tables()
CONFIGS = {
    "hybrid, no expansion, no rerank": {"expand": False, "rerank": "none"},
    "hybrid + expansion, no rerank": {"rerank": "none"},
    "default (hybrid + expansion + rerank)": {},
    "default without lean (before)": {"lean": 0},
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


def score(store, qemb, pairs, tq, opts, k, only=None, dicts=None) -> tuple[int, int, int, int, int]:
    """(targets in top k, targets, same with the SMS holding the standard form set aside, reference examples
    in top k, reference-example targets)."""
    found = aside = brief = total = brief_total = 0
    for q, tset in tq.items():
        tset = tset if only is None else tset & only
        if not tset:
            continue
        std = set(_standard(pairs, q))
        top = {h.meta["n"] for h in search(store, qemb, q, k=k, dictionaries=dicts, **opts).hits}
        # k + |std| deep, so that k remain once they are set aside (k <= 80: the candidate lists stay at 100)
        deeper = search(store, qemb, q, k=k + len(std), dictionaries=dicts, **opts).hits
        top_aside = set([h.meta["n"] for h in deeper if h.meta["n"] not in std][:k])
        got = len(top & tset)
        found += got
        aside += len(top_aside & tset)
        total += len(tset)
        if q in BRIEF_QUERIES:
            brief += got
            brief_total += len(tset)
    return found, total, aside, brief, brief_total


def held_out(store, qemb, pairs, tq, configs, k, seed) -> None:
    """The split of bench/sms_expansion.py: the shipped SMS dictionary is replaced by one mined
    automatically on one half of the SMS (the other shipped dictionaries stay), targets of the other half."""
    ids = list(range(len(pairs)))
    random.Random(seed).shuffle(ids)
    half_a, half_b = set(ids[: len(ids) // 2]), set(ids[len(ids) // 2 :])
    shipped = load_dictionaries(user=False)
    keep = [d for name, d in shipped.dicts.items() if name != "sms"]
    for label, train, test in (("A→B", half_a, half_b), ("B→A", half_b, half_a)):
        mined = mined_dictionary([pairs[i] for i in sorted(train)])
        dicts = Dictionaries([*keep, *mined.dicts.values()])
        for name, opts in configs.items():
            f, t, a, _, _ = score(store, qemb, pairs, tq, opts, k, only=test, dicts=dicts)
            print(f"held-out {label} mined SMS dictionary | {name:40s} | {f}/{t} = {f / t:.1%} | "
                  f"{a}/{t} = {a / t:.1%}", flush=True)
            TABLES.add("held-out", ["split", "configuration", "targets in top 20", "set aside"],
                       [f"{label} mined", name, f"{f}/{t} = {f / t:.1%}", f"{a}/{t} = {a / t:.1%}"])


def build(path: Path, emb, cached, texts: list[str]) -> None:
    """One ``message`` chunk per text (meta ``n`` = its position), e5 vectors through the embedding cache."""
    store = open_store(path, readonly=False)
    vecs = cached.embed_documents(texts)
    with store.writer() as w:
        w.set_manifest(wanted_manifest(emb, ChunkerConfig(), {"index": "flat", "precision": "float32"}, {}))
        store._vec = None
        store.refresh()
        for i, text in enumerate(texts):
            w.upsert_source(
                SourceState(path=f"sms/{i}", size=0, mtime_ns=0, fingerprint="", reader="sms"),
                [Chunk(text=text, kind=KIND_MESSAGE, meta={"n": i})],
                vecs[i : i + 1],
            )
    store.close()


def concepts(tmp: Path, emb, cached, background: list[str]) -> None:
    """The concept task of bench/sms_expansion.py through the product: the 500 raw SMS plus its hand-written
    insults, threats and mere mentions; real insults/threats in the top 10 of each concept query."""
    lines = INSULTS + THREATS + MENTIONS
    build(tmp / "concepts", emb, cached, background + lines)
    store = open_store(tmp / "concepts")
    qemb = QueryCachedEmbedder(emb)
    first = len(background)
    configs = {"default": {}, "default without lean (before)": {"lean": 0}, "bm25 + expansion": {"mode": "lexical"}}
    print("| query | " + " | ".join(configs) + " |\n|---|" + "---|" * len(configs))
    for q, wanted in CONCEPT_QUERIES.items():
        want = {first + lines.index(t) for t in wanted}
        row = []
        for opts in configs.values():
            top = [h.meta["n"] for h in search(store, qemb, q, k=10, **opts).hits]
            row.append(f"{sum(1 for n in top if n in want)}/10")
        print(f"| {q} | " + " | ".join(row) + " |", flush=True)
        TABLES.add("concepts", ["query", *configs], [q, *row])
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path, nargs="?", help="sms-dev (default: $PISTEUR_EVAL_DIR/sms-dev)")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--weights-expansion", type=float, nargs="*", default=[])
    ap.add_argument("--variants", action="store_true", help="also run fusion variants (merge, fill, ...)")
    ap.add_argument("--grid", action="store_true", help="only a grid of first-stage fusion settings (no rerank)")
    ap.add_argument("--held-out", action="store_true", help="also the held-out split (mined dictionary, seed 13)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--concepts", action="store_true", help="only the concept task (insults/threats), top 10")
    args = ap.parse_args()
    pairs = load_pairs(eval_path(args.folder, "sms-dev"))
    emb = load_embedder("e5", workers=1)
    cached = CachedEmbedder(emb)
    with tempfile.TemporaryDirectory() as tmp:
        if args.concepts:
            concepts(Path(tmp), emb, cached, [p["raw"] for p in pairs])
            print(write_result("piaf_sms_pipeline-concepts", command_line(), {"tables": TABLES.tables}),
                  file=sys.stderr)
            return
        build(Path(tmp) / "idx", emb, cached, [p["raw"] for p in pairs])
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
        print(f"{len(QUERIES)} queries, {total} targets (reference examples: {brief_total}); top {args.k}; second"
              " figure: the same with the SMS that already hold the standard form set aside")
        for name, opts in configs.items():
            found, total, aside, brief, brief_total = score(store, qemb, pairs, tq, opts, args.k)
            print(
                f"{name:45s} {found}/{total} = {found / total:.1%}   set aside {aside}/{total} = "
                f"{aside / total:.1%}   reference examples {brief}/{brief_total} = {brief / max(brief_total, 1):.1%}",
                flush=True,
            )
            cols = ["configuration", f"targets in top {args.k}", "set aside", "the 9 reference examples"]
            TABLES.add("in-sample", cols, [name, f"{found}/{total} = {found / total:.1%}",
                                           f"{aside}/{total} = {aside / total:.1%}",
                                           f"{brief}/{brief_total} = {brief / max(brief_total, 1):.1%}"])
        if args.held_out:
            held = {n: o for n, o in CONFIGS.items() if "no expansion" not in n and "bm25 + expansion +" not in n}
            held_out(store, qemb, pairs, tq, held, args.k, args.seed)
        store.close()
    print(write_result("piaf_sms_pipeline", command_line(), {"k": args.k, "tables": TABLES.tables}), file=sys.stderr)


if __name__ == "__main__":
    main()
