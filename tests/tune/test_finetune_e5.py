"""Fine-tuning made practical on a CPU: batches of similar length without a chunk twice, the frozen word
embeddings, the model's own prefixes, the packaged e5-small as a base."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from pisteur.tune.finetune import length_batches


def _rows(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    chunks = [" ".join(["mot"] * rng.randint(5, 300)) + f" {i}" for i in range(n // 2)]
    return [(f"q{i}", chunks[i % len(chunks)], rng.choice(chunks)) for i in range(n)]


def test_length_batches_group_similar_lengths_without_a_chunk_twice():
    rows = _rows(200)
    batches = length_batches(rows, 16, random.Random(1))
    assert all(len({r[1] for r in b}) == len(b) for b in batches)  # every chunk at most once per batch
    kept = [r for b in batches for r in b]
    assert len(kept) >= len(rows) - 1 and len(set(kept)) == len(kept)
    def size(r: tuple[str, str, str]) -> int:
        return len(r[1]) + len(r[2])

    spread = [max(map(size, b)) - min(map(size, b)) for b in batches if len(b) == 16]
    naive = [max(map(size, b)) - min(map(size, b)) for b in (rows[i : i + 16] for i in range(0, 192, 16))]
    assert np.mean(spread) < 0.5 * np.mean(naive)
    assert [len(b) for b in batches] != sorted(len(b) for b in batches) or len(batches) < 3


def test_bf16_choice():
    pytest.importorskip("torch")
    from pisteur.tune.finetune import use_bf16

    assert use_bf16("bf16", "cpu") and not use_bf16("fp32", "cpu") and not use_bf16("auto", "mps")


@pytest.mark.slow
def test_frozen_word_embeddings_and_own_prefixes(tiny_index, tmp_path):
    pytest.importorskip("sentence_transformers")
    from embed.tiny_models import build_tiny_bert
    from helpers import HashEmbedder

    from pisteur.embed import load_embedder
    from pisteur.store import open_store
    from pisteur.tune.finetune import FinetuneOptions, finetune, load_base, model_prefixes, text_triples
    from pisteur.tune.synth import MakeOptions, make_set, read_docs

    _, st_dir = build_tiny_bert(tmp_path / "m")
    cfg = st_dir / "config_sentence_transformers.json"
    doc = json.loads(cfg.read_text())
    cfg.write_text(json.dumps({**doc, "prompts": {"query": "query : ", "document": "passage : "}}))
    store = open_store(tiny_index)
    s = make_set(store, HashEmbedder("tiny", dims=64), MakeOptions(max_queries=40))
    _, owner = read_docs(store)
    triples = text_triples(store, s.split("train"), s.vectors, owner)
    store.close()
    model = load_base(f"st:{st_dir}", "cpu")
    assert model_prefixes(model) == ("query : ", "passage : ")
    word0 = model[0].auto_model.embeddings.word_embeddings.weight.detach().clone()
    layer0 = model[0].auto_model.encoder.layer[0].attention.self.query.weight.detach().clone()
    rep = finetune(model, triples, [], tmp_path / "tuned", FinetuneOptions(epochs=2, batch=8, lr=1e-3, device="cpu",
                                                                          max_seq_length=16, precision="fp32"))
    assert rep["steps"] >= 2 and rep["trainable_params"] < sum(p.numel() for p in model.parameters())
    tuned = load_base(f"st:{tmp_path / 'tuned'}", "cpu")
    auto = tuned[0].auto_model
    assert np.array_equal(auto.embeddings.word_embeddings.weight.detach().numpy(), word0.numpy())
    assert not np.allclose(auto.encoder.layer[0].attention.self.query.weight.detach().numpy(), layer0.numpy())
    assert tuned.max_seq_length == 32  # cut to 16 for training only
    emb = load_embedder(f"st:{tmp_path / 'tuned'}", device="cpu")
    assert emb.describe()["query_prefix"] == "query : " and emb.describe()["document_prefix"] == "passage : "


@pytest.mark.slow
def test_cli_finetunes_the_packaged_model(tiny_index, tmp_path: Path):
    pytest.importorskip("sentence_transformers")
    from typer.testing import CliRunner

    from pisteur.cli import app
    from pisteur.embed import load_embedder

    out = tmp_path / "e5-tuned"
    r = CliRunner().invoke(app, ["eval", "finetune", "--index", str(tiny_index), "--base", "e5-small", "--out",
                                 str(out), "--batch", "8", "--max-seq-length", "32", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    assert rep["query_prefix"] == "query: " and rep["document_prefix"] == "passage: " and rep["steps"] >= 1
    assert rep["trainable_params"] < 30_000_000  # the 96M word-embedding parameters stay frozen
    emb = load_embedder(f"st:{out}", device="cpu")
    assert emb.describe()["query_prefix"] == "query: " and emb.max_tokens == 512
    ref = load_embedder("e5onnx:multilingual-e5-small", query_engine="onnx", workers=1)
    text = ["Boulangerie : le pain et les croissants sortent du four à six heures."]
    cos = float(np.sum(emb.embed_documents(text) * ref.embed_documents(text)))
    assert 0.8 < cos < 0.99999  # trained, but still the same model


def test_training_triples_kinds_and_negative_rank(tiny_index):
    from helpers import HashEmbedder

    from pisteur.store import open_store
    from pisteur.tune.finetune import training_triples
    from pisteur.tune.synth import MakeOptions, make_set

    store = open_store(tiny_index)
    s = make_set(store, HashEmbedder("tiny", dims=64), MakeOptions(max_queries=60))
    hard = training_triples(store, s, kinds=(), negative_rank=0)
    soft = training_triples(store, s, kinds=(), negative_rank=5)
    titles = {q.text for q in s.split("train") if q.kind == "title"}
    only = training_triples(store, s, kinds=("title",))
    store.close()
    assert len(hard) == len(soft) == len(s.split("train"))
    assert [t[:2] for t in hard] == [t[:2] for t in soft] and any(a[2] != b[2] for a, b in zip(hard, soft, strict=True))
    assert only and {t[0] for t in only} <= titles and len(only) < len(hard)
