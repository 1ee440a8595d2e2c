"""Full fine-tuning of a torch-loadable embedding model (extra ``st``) on an index's synthetic queries.

Stages: optional TSDAE (Wang et al. 2021, "TSDAE: Using Transformer-based Sequential Denoising
Auto-Encoder for Unsupervised Sentence Embedding Learning": the model learns to rebuild a chunk from a copy
with 60 % of its words deleted, no labels), then MultipleNegativesRankingLoss over (query, source chunk,
hard negative) triples, hard negatives mined from the index (its best chunks of other documents).
The losses are sentence-transformers' own; the loop is written here (a few lines of torch) because the
library's trainer needs the ``datasets`` package (pyarrow, pandas) for what is a plain list of triples.
The output is a sentence-transformers folder, usable as ``st:FOLDER``. A retention check on a general set
(nDCG@10 of the dense model alone, before and after) guards against forgetting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

INSTALL = "pip install 'pisteur[st]'"


class FinetuneError(RuntimeError):
    pass


@dataclass
class FinetuneOptions:
    epochs: int = 1
    batch: int = 32
    lr: float = 2e-5
    tsdae_epochs: int = 0  # 0: no TSDAE stage
    query_prefix: str = ""  # e.g. "query: " for e5 models
    document_prefix: str = ""  # e.g. "passage: "
    device: str = "auto"
    seed: int = 0
    max_seq_length: int = 256


def _st() -> Any:
    try:
        import sentence_transformers
        import torch  # noqa: F401
    except ImportError as exc:
        raise FinetuneError(f"fine-tuning needs sentence-transformers and torch: {INSTALL}") from exc
    return sentence_transformers


def load_base(base: str, device: str = "auto") -> Any:
    """``st:FOLDER`` or a folder: a sentence-transformers model (never downloaded)."""
    st = _st()
    from pisteur.embed.st import pick_device

    path = Path(base.removeprefix("st:")).expanduser()
    if not path.is_dir():
        raise FinetuneError(f"base model {base}: not a folder (give st:FOLDER, a sentence-transformers or "
                            "Hugging Face model folder)")
    try:
        return st.SentenceTransformer(str(path), device=pick_device(device), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise FinetuneError(f"base model {base}: cannot be loaded ({exc})") from exc


def _features(model: Any, texts: Sequence[str]) -> dict[str, Any]:
    prep = getattr(model, "preprocess", None) or model.tokenize  # ``tokenize`` before sentence-transformers 6
    feats = prep(list(texts))
    return {k: v.to(model.device) if hasattr(v, "to") else v for k, v in feats.items()}


def _run(model: Any, loss: Any, batches: list[list[list[str]]], lr: float, log: Callable[[str], None],
         name: str) -> list[float]:
    import torch

    opt = torch.optim.AdamW(loss.parameters(), lr=lr)
    model.train()
    losses = []
    for i, cols in enumerate(batches):
        value = loss([_features(model, c) for c in cols], None)
        opt.zero_grad()
        value.backward()
        opt.step()
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
    model.max_seq_length = opts.max_seq_length
    t0 = time.perf_counter()
    report: dict[str, Any] = {"device": str(model.device), "triples": len(triples)}
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
    mnrl = losses.MultipleNegativesRankingLoss(model)
    batches = []
    for _ in range(opts.epochs):
        rows = list(triples)
        rng.shuffle(rows)
        for i in range(0, len(rows) - 1, opts.batch):
            part = rows[i : i + opts.batch]
            batches.append([[opts.query_prefix + q for q, _, _ in part], [opts.document_prefix + p for _, p, _ in part],
                            [opts.document_prefix + n for _, _, n in part]])
    mn = _run(model, mnrl, batches, opts.lr, say, "mnrl") if batches else []
    report.update({"mnrl_loss_first": round(float(np.mean(mn[:5])), 4) if mn else None,
                   "mnrl_loss_last": round(float(np.mean(mn[-5:])), 4) if mn else None, "steps": len(mn)})
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def text_triples(store: Any, queries: Sequence[Any], vectors: dict[str, np.ndarray], owner: dict[int, str],
                 depth: int = 20) -> list[tuple[str, str, str]]:
    """(query, source chunk text, hardest chunk of another document) from the index."""
    out = []
    for q in queries:
        if q.qid not in vectors or q.chunk_id < 0:
            continue
        neg = next((i for i, _ in store.dense_search(vectors[q.qid], depth) if owner.get(i) != q.doc_id), None)
        if neg is None:
            continue
        hits = {h.id: h.text for h in store.get([q.chunk_id, neg])}
        if q.chunk_id in hits and neg in hits:
            out.append((q.text, hits[q.chunk_id], hits[neg]))
    return out


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
