"""Calibration: search points become flat option overrides; dictionaries can be switched off; the whole
tuning writes what the search then reads."""

from __future__ import annotations

import json
import shutil

from helpers import HashEmbedder

from pisteur.retrieve.expand import expand_query
from pisteur.retrieve.options import SearchOptions
from pisteur.retrieve.pipeline import search
from pisteur.store import open_store
from pisteur.tune.artifacts import DICT_DIR, TUNING_FILE, read_tuning
from pisteur.tune.calibrate import CalibOptions, to_options, write_disabled
from pisteur.tune.pipeline import TuneOptions, tune_index
from pisteur.tune.synth import MakeOptions


def test_points_become_pipeline_options():
    opts = to_options({"weights.dense": 2.5, "lean": 0.0, "rerank_depth": 0, "disabled": ["sms"]}, DICT_DIR)
    assert opts == {"weights": {"dense": 2.5}, "lean": 0.0, "rerank": "none", "dictionaries": [DICT_DIR]}
    SearchOptions().merged(opts)  # every name is a real search option, every value a valid one
    assert to_options({"rerank_depth": 10}, None) == {"rerank_depth": 10}


def test_disabled_dictionary_no_longer_expands(tmp_path):
    assert any(a.dictionary == "sms" for a in expand_query("rdv demain").applied)
    write_disabled(tmp_path / "d", ["sms"])
    exp = expand_query("rdv demain", [str(tmp_path / "d")])
    assert not any(a.dictionary == "sms" for a in exp.applied)
    assert any(a.dictionary == "acronyms" for a in expand_query("gav", [str(tmp_path / "d")]).applied)


def test_tune_index_writes_what_search_reads(tiny_index, tmp_path):
    idx = tmp_path / "idx"
    shutil.copytree(tiny_index, idx)
    emb = HashEmbedder("tiny", dims=64)
    store = open_store(idx)
    space = {"rerank_depth": (0, 30), "lean": (0.0,)}
    calib = CalibOptions(max_queries=12, rounds=1, dictionaries=False, space=space)
    opts = TuneOptions(make=MakeOptions(max_queries=60), calib=calib, steps=("calibrate", "adapter"))
    report = tune_index(store, emb, idx, opts)
    doc = json.loads((idx / TUNING_FILE).read_text())
    cal = report["calibration"]
    assert doc["overrides"] == cal["overrides"] and cal["trials"] >= 4
    assert cal["kept"] == (cal["test_after"] >= cal["test_before"] and bool(cal["best"]))
    assert cal["train_after"] >= cal["train_before"]
    assert set(cal["kinds"]) == {"train_before", "train_after", "test_before", "test_after"}
    assert cal["kinds"]["train_before"] and all(0 <= v <= 1 for v in cal["kinds"]["test_before"].values())
    assert "adapter" in report and report["adapter"]["pairs"] > 0
    tuning = read_tuning(idx)
    assert tuning is not None and (tuning.adapter is not None) == report["adapter"]["kept"]
    res = search(store, emb, "roue crevaison", k=3)
    assert res.options["tuned"] == {k: v for k, v in tuning.overrides.items()}
    store.close()


def test_memo_store_gives_the_same_results(tiny_index):
    from pisteur.tune.calibrate import MemoStore

    emb = HashEmbedder("tiny", dims=64)
    store = open_store(tiny_index)
    memo = MemoStore(store)
    for q in ("roue crevaison", "guitare concert", "roue crevaison"):
        a = search(store, emb, q, k=5, tuning=False)
        b = search(memo, emb, q, k=5, tuning=False)
        assert [(h.id, round(h.score, 6)) for h in a.hits] == [(h.id, round(h.score, 6)) for h in b.hits]
    assert memo._lists and memo._hits
    store.close()


def test_adapter_only_keeps_the_calibration(tiny_index, tmp_path):
    idx = tmp_path / "idx"
    shutil.copytree(tiny_index, idx)
    (idx / TUNING_FILE).write_text(json.dumps({"overrides": {"rerank": "none"}, "calibration": {"kept": True}}))
    store = open_store(idx)
    report = tune_index(store, HashEmbedder("tiny", dims=64), idx,
                        TuneOptions(make=MakeOptions(max_queries=40), steps=("adapter",)))
    store.close()
    doc = json.loads((idx / TUNING_FILE).read_text())
    assert doc["overrides"] == {"rerank": "none"} and report["calibration"] == {"kept": True}
    assert "adapter" in doc


def test_the_adapter_is_opt_in(tiny_index, tmp_path):
    from pisteur.tune.artifacts import ADAPTER_FILE

    idx = tmp_path / "idx"
    shutil.copytree(tiny_index, idx)
    store = open_store(idx)
    calib = CalibOptions(max_queries=12, rounds=1, dictionaries=False, space={"rerank_depth": (0,)})
    report = tune_index(store, HashEmbedder("tiny", dims=64), idx,
                        TuneOptions(make=MakeOptions(max_queries=40), calib=calib))
    store.close()
    assert "calibration" in report and "adapter" not in report
    assert not (idx / ADAPTER_FILE).exists()
