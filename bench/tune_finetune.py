"""Full fine-tuning figures: a sentence-transformers model fine-tuned on a corpus's synthetic queries (made
from the corpus alone, triples mined from an existing index of it), scored alone (cosine over whole
documents) on the corpus's real held-out questions before and after.

    python bench/tune_finetune.py DATASET --index BENCH_INDEX --base st:FOLDER [--epochs 1] [--tsdae 0]

``--index``: an index of DATASET (e.g. built by ``pisteur bench DATASET``): used for synthetic queries and
hard negatives only. Writes bench/results/tune_finetune.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from tune_common import load_avg, write_result  # noqa: E402

from pisteur.embed import embedder_for_manifest  # noqa: E402
from pisteur.evaluate.beir import load_dataset, split_queries  # noqa: E402
from pisteur.store import open_store  # noqa: E402
from pisteur.tune.finetune import FinetuneOptions, finetune, load_base, retention, text_triples  # noqa: E402
from pisteur.tune.synth import MakeOptions, make_set, read_docs, write_beir  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--tsdae", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--max-queries", type=int, default=2000)
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    store = open_store(args.index)
    emb = embedder_for_manifest(store.manifest())
    t0 = time.perf_counter()
    s = make_set(store, emb, MakeOptions(max_queries=args.max_queries))
    _, owner = read_docs(store)
    triples = text_triples(store, s.split("train"), s.vectors, owner)
    texts = [h.text for h in store.iter_chunks()] if args.tsdae else []
    store.close()
    made = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        held = Path(tmp) / "held"  # the real held-out questions, as a BEIR folder
        judged = ds.judged_queries()
        test = set(split_queries(list(judged), "test"))
        held.mkdir()
        shutil.copy(args.dataset / "corpus.jsonl", held / "corpus.jsonl")
        import json

        (held / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}, ensure_ascii=False) + "\n"
                                                    for q, t in judged.items() if q in test), encoding="utf-8")
        (held / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
            f"{q}\t{d}\t{g}\n" for q in test for d, g in ds.qrels[q].items()), encoding="utf-8")
        model = load_base(args.base)
        model.max_seq_length = args.max_seq_length  # the same before and after
        before = retention(model, held)
        print(f"before: nDCG@10 {before:.4f} (load {load_avg()})", flush=True)
        opts = FinetuneOptions(epochs=args.epochs, batch=args.batch, tsdae_epochs=args.tsdae,
                               max_seq_length=args.max_seq_length)
        report = finetune(model, triples, texts, Path(tmp) / "model", opts,
                          log=lambda m: print(m, file=sys.stderr, flush=True))
        after = retention(model, held)
        print(f"after: nDCG@10 {after:.4f} ({report['seconds']} s fine-tuning)", flush=True)
        write_beir(s, Path(tmp) / "set")
    out = write_result("tune_finetune", "python bench/tune_finetune.py " + " ".join(sys.argv[1:]), {
        "dataset": ds.name, "base": args.base, "held_out_questions": len(test), "synthetic": s.summary(),
        "triples": len(triples), "make_seconds": round(made, 1), "finetune": report,
        "ndcg@10_model_alone": {"before": round(before, 4), "after": round(after, 4)}})
    print(f"written {out}")


if __name__ == "__main__":
    main()
