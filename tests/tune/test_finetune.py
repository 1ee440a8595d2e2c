"""Full fine-tuning on a tiny BERT built in the test: TSDAE then MNRL with mined hard negatives; the output
folder loads as ``st:FOLDER``; the retention check runs on a general set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import HashEmbedder

from pisteur.store import open_store
from pisteur.tune.synth import MakeOptions, make_set, read_docs

TINY_BEIR = Path(__file__).parent.parent / "fixtures" / "beir-tiny"


@pytest.mark.slow
def test_finetune_tiny_model(tiny_index, tmp_path):
    pytest.importorskip("sentence_transformers")
    from embed.tiny_models import build_tiny_bert

    from pisteur.embed import load_embedder
    from pisteur.tune.finetune import FinetuneOptions, finetune, load_base, retention, text_triples

    _, st_dir = build_tiny_bert(tmp_path / "m")
    store = open_store(tiny_index)
    s = make_set(store, HashEmbedder("tiny", dims=64), MakeOptions(max_queries=40))
    _, owner = read_docs(store)
    triples = text_triples(store, s.split("train"), s.vectors, owner)
    texts = [h.text for h in store.iter_chunks()][:40]
    store.close()
    assert len(triples) >= 10 and all(p != n for _, p, n in triples)
    model = load_base(f"st:{st_dir}", "cpu")
    before = model.encode(["garde a vue demain"], convert_to_numpy=True)
    base_retention = retention(model, TINY_BEIR)
    out = tmp_path / "tuned"
    rep = finetune(model, triples, texts, out, FinetuneOptions(epochs=2, batch=8, lr=1e-3, tsdae_epochs=1,
                                                               device="cpu", max_seq_length=32))
    assert rep["steps"] >= 2 and rep["tsdae_loss"] and rep["device"] == "cpu"
    emb = load_embedder(f"st:{out}", device="cpu")
    after = emb.embed_queries(["garde a vue demain"])
    assert after.shape == (1, 32)
    assert not np.allclose(np.asarray(after)[0] / np.linalg.norm(after), before[0] / np.linalg.norm(before))
    assert 0.0 <= retention(load_base(f"st:{out}", "cpu"), TINY_BEIR) <= 1.0 and 0.0 <= base_retention <= 1.0


@pytest.mark.slow
def test_missing_base_is_one_clear_error(tmp_path):
    pytest.importorskip("sentence_transformers")
    from pisteur.tune.finetune import FinetuneError, load_base

    with pytest.raises(FinetuneError, match="not a folder"):
        load_base(f"st:{tmp_path / 'nothing'}")


@pytest.mark.slow
def test_finetune_cli_bad_base(tiny_index, tmp_path):
    pytest.importorskip("sentence_transformers")
    from typer.testing import CliRunner

    from pisteur.cli import app

    r = CliRunner().invoke(app, ["eval", "finetune", "--index", str(tiny_index), "--base", f"st:{tmp_path / 'x'}",
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "not a folder" in r.output and "Traceback" not in r.output
