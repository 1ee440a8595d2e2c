"""Full fine-tuning figures: a model fine-tuned on a corpus's synthetic queries (made from the corpus alone,
triples mined from an index of it), scored on the corpus's real held-out questions before and after, dense
list alone and default pipeline (the corpus indexed again with the fine-tuned model), plus the retention
check on a general set (the model alone, before and after). For ``e5-small`` the "before" figures are given
twice: the default encoder (4-bit weights) and the exported float32 torch model the fine-tuning starts from.

    python bench/tune_finetune.py DATASET [--base e5-small] [--cache DIR] [--retention GENERAL_SET]
        [--epochs 2] [--batch 32] [--max-seq-length 256] [--lr 2e-5] [--threads 0] [--max-triples 0]
        [--kinds cloze,llm|all] [--negative-rank 5] [--llm ollama:MODEL]

``--base``: ``e5-small`` (the packaged default model, exported to torch) or ``st:FOLDER``; the index before
fine-tuning is built with the default encoder for ``e5-small``. ``--cache``: keeps the bench index and the
synthetic set between runs. Writes bench/results/tune_finetune-e5.json (``--name``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from tune_common import index_of, load_avg, write_result  # noqa: E402

from pisteur.evaluate.beir import Dataset, load_dataset, split_queries  # noqa: E402
from pisteur.evaluate.runner import PrecomputedQueries, embed_queries_timed, parse_config, run_config  # noqa: E402
from pisteur.store import open_store  # noqa: E402
from pisteur.tune.finetune import (  # noqa: E402
    NEGATIVE_RANK,
    PACKAGED,
    TRAIN_KINDS,
    TRAIN_SET_QUERIES,
    FinetuneOptions,
    finetune,
    load_base,
    model_prefixes,
    retention,
    text_triples,
    training_set_options,
)
from pisteur.tune.synth import SynthSet, make_set, read_beir, read_docs, write_beir  # noqa: E402

GENERAL = Path(__file__).parent / "data" / "debian-faq-fr"


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg} (load {load_avg()[0]})", file=sys.stderr, flush=True)


def synthetic(store: Any, emb: Any, cache: Path | None, max_queries: int, llm: Any = None) -> SynthSet:
    """The synthetic set of the index (kept in the cache folder), with query vectors."""
    folder = cache / f"synthetic-cloze-{max_queries}" if cache else None
    if folder and (folder / "queries.jsonl").is_file():
        s = read_beir(folder)
    else:
        s = make_set(store, emb, training_set_options(llm, max_queries=max_queries), progress=say)
        if folder:
            write_beir(s, folder)
    return s.ensure_vectors(emb)


def scores(ds: Dataset, index: Path, emb: Any, qs: dict[str, str]) -> dict[str, float]:
    """nDCG@10 of the dense list alone and of the default pipeline on the held-out questions."""
    vecs, secs = embed_queries_timed(emb, list(qs.values()))
    qemb = PrecomputedQueries(emb, vecs)
    store = open_store(index)
    out = {}
    for preset in ("dense", "default"):
        cfg = parse_config(preset)
        cfg.options["tuning"] = False
        out[preset] = round(run_config(cfg, store, qemb, qs, ds.qrels, secs, depth=100).metrics["ndcg@10"], 4)
    store.close()
    say(f"nDCG@10 {out}")
    return out


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--base", default="e5-small")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--retention", type=Path, default=GENERAL)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--max-seq-length", type=int, default=256)
    ap.add_argument("--max-queries", type=int, default=TRAIN_SET_QUERIES)
    ap.add_argument("--max-triples", type=int, default=0, help="0: all (fewer: a quick trial)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--kinds", default=",".join(TRAIN_KINDS), help="synthetic query kinds trained on ('all')")
    ap.add_argument("--negative-rank", type=int, default=NEGATIVE_RANK, help="0: the closest other-document chunk")
    ap.add_argument("--name", default="tune_finetune-e5")
    ap.add_argument("--llm", default=None, help="also questions by a chat model: ollama:MODEL or openai:URL")
    ap.add_argument("--llm-model", default=None, help="model name for --llm openai:URL")
    return ap.parse_args()


def main() -> None:
    args = parse()
    ds = load_dataset(args.dataset)
    index_model = "e5" if args.base in PACKAGED else args.base
    emb, cached, index = index_of(ds, index_model, args.cache)
    store = open_store(index)
    from pisteur.tune.llm import chat_model

    chat = chat_model(args.llm, args.llm_model) if args.llm else None
    s = synthetic(store, emb, args.cache if chat is None else None, args.max_queries, chat)
    _, owner = read_docs(store)
    kinds = {k for k in args.kinds.split(",") if k and args.kinds != "all"}
    train = [q for q in s.split("train") if not kinds or q.kind in kinds]
    triples = text_triples(store, train, s.vectors, owner, negative_rank=args.negative_rank)
    store.close()
    if args.max_triples:
        triples = triples[: args.max_triples]
    judged = ds.judged_queries()
    qs = {q: judged[q] for q in split_queries(list(judged), "test")}
    before = scores(ds, index, cached, qs)
    cached.close()
    model = load_base(args.base, "auto", log=say)
    base_scores = None
    if args.base in PACKAGED:  # the export itself (float32 torch), to tell fine-tuning from the 4-bit/fp32 gap
        from pisteur.embed.e5_export import ensure_export

        _, cached1, index1 = index_of(ds, f"st:{ensure_export()}", args.cache)
        base_scores = scores(ds, index1, cached1, qs)
        cached1.close()
    qp, dp = model_prefixes(model)
    ret_before = retention(model, args.retention, query_prefix=qp, document_prefix=dp)
    say(f"retention before {ret_before:.4f}; fine-tuning on {len(triples)} triples")
    out = (args.cache or Path(".")) / f"tuned-{time.strftime('%Y%m%d-%H%M%S')}"
    opts = FinetuneOptions(epochs=args.epochs, batch=args.batch, lr=args.lr, max_seq_length=args.max_seq_length,
                           query_prefix=qp, document_prefix=dp, threads=args.threads)
    load0, wall0, cpu0 = load_avg(), time.perf_counter(), time.process_time()
    report = finetune(model, triples, [], out, opts, log=say)
    train_report = {"wall_s": round(time.perf_counter() - wall0, 1),
                    "process_cpu_s": round(time.process_time() - cpu0, 1), "load_before": load0,
                    "load_after": load_avg(), **report}
    ret_after = retention(model, args.retention, query_prefix=qp, document_prefix=dp)
    say(f"fine-tuned in {train_report['wall_s']} s; retention after {ret_after:.4f}; indexing with the tuned model")
    del model
    t1 = time.perf_counter()
    emb2, cached2, index2 = index_of(ds, f"st:{out}", args.cache)
    reindex_s = time.perf_counter() - t1
    after = scores(ds, index2, cached2, qs)
    cached2.close()
    path = write_result(args.name, "", {
        "dataset": ds.name, "base": args.base, "held_out_questions": len(qs), "synthetic": s.summary(),
        "kinds": sorted(kinds) or "all", "negative_rank": args.negative_rank,
        "triples": len(triples), "finetune": train_report, "reindex_seconds": round(reindex_s, 1),
        "ndcg@10": {"before": before, "before_torch_fp32": base_scores, "after": after},
        "retention": {"set": args.retention.name, "ndcg@10_model_alone": {"before": round(ret_before, 4),
                                                                          "after": round(ret_after, 4)}},
        "tuned_model": emb2.describe()})
    print(f"written {path}")


if __name__ == "__main__":
    main()
