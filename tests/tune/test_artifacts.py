"""A tuned index: its option overrides and query adapter apply to every search, under explicit options."""

from __future__ import annotations

import json
import shutil

import numpy as np
from helpers import HashEmbedder

from pisteur.retrieve.options import DEFAULT_OPTIONS
from pisteur.retrieve.pipeline import search
from pisteur.retrieve.tuning import tuned_options
from pisteur.store import open_store
from pisteur.tune.artifacts import ADAPTER_FILE, TUNING_FILE, Adapter


def test_tuned_options_explicit_wins():
    explicit = {"rerank": "offline", "weights": {"dense": 1.0}, "mode": None}
    opts, used = tuned_options(DEFAULT_OPTIONS.merged(explicit), DEFAULT_OPTIONS,
                               {"rerank": "none", "weights": {"dense": 2.0, "lexical": 0.5}}, explicit)
    assert opts.rerank == "offline" and opts.weights.dense == 1.0 and opts.weights.lexical == 0.5
    assert "rerank" not in used and used["weights"] == {"lexical": 0.5}


def test_tuning_applies_by_default_and_can_be_overridden(tiny_index, tmp_path):
    idx = tmp_path / "idx"
    shutil.copytree(tiny_index, idx)
    emb = HashEmbedder("tiny", dims=64)
    store = open_store(idx)
    q = "crevaison de la roue"
    plain = search(store, emb, q, k=5)
    assert plain.options["tuned"] == {} and plain.options["adapter"] is False
    (idx / TUNING_FILE).write_text(json.dumps({"overrides": {"mode": "lexical", "rerank": "none"}}))
    tuned = search(store, emb, q, k=5)
    assert tuned.options["tuned"] == {"mode": "lexical", "rerank": "none"}
    assert tuned.options["mode"] == "lexical" and "dense" not in tuned.hits[0].explain
    explicit = search(store, emb, q, k=5, mode="hybrid")
    assert explicit.options["mode"] == "hybrid" and explicit.options["tuned"] == {"rerank": "none"}
    off = search(store, emb, q, k=5, tuning=False)
    assert off.options["tuned"] == {} and off.options["rerank"] == "offline"
    store.close()


def test_adapter_changes_the_dense_query(tiny_index, tmp_path):
    idx = tmp_path / "idx"
    shutil.copytree(tiny_index, idx)
    emb = HashEmbedder("tiny", dims=64)
    store = open_store(idx)
    q = "guitare concert mélodie"
    before = [h.id for h in search(store, emb, q, k=5, mode="dense", rerank="none").hits]
    Adapter(-2.0 * np.eye(64, dtype=np.float32)).save(idx / ADAPTER_FILE)  # q' = -q: the farthest first
    res = search(store, emb, q, k=5, mode="dense", rerank="none")
    assert res.options["adapter"] is True
    after = [h.id for h in res.hits]
    assert not set(before) & set(after)
    given = search(store, emb, q, k=5, mode="dense", rerank="none", query_vector=emb.embed_queries([q])[0])
    assert [h.id for h in given.hits] == after  # a caller's own vector goes through the adapter too
    store.close()
