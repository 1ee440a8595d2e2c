"""`pisteur eval make` / `pisteur eval tune` / `pisteur search --explain` on a tuned index."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from pisteur.evaluate.beir import load_dataset
from pisteur.tune.artifacts import TUNING_FILE


def _app():
    from pisteur.cli import app

    return app


@pytest.mark.slow
def test_eval_make_then_tune_then_search(tiny_index, tmp_path):
    idx = tmp_path / "idx"
    shutil.copytree(tiny_index, idx)
    out = tmp_path / "set"
    r = CliRunner().invoke(_app(), ["eval", "make", "--index", str(idx), "--out", str(out), "--max-queries", "50"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["kept"] > 10 and (out / "qrels" / "train.tsv").exists()
    assert load_dataset(out).judged_queries()
    r = CliRunner().invoke(_app(), ["eval", "tune", "--index", str(idx), "--set", str(out), "--steps", "adapter"])
    assert r.exit_code == 0, r.output
    doc = json.loads((idx / TUNING_FILE).read_text())
    assert doc["overrides"] == {} and doc["adapter"]["pairs"] > 0
    (idx / TUNING_FILE).write_text(json.dumps({**doc, "overrides": {"rerank": "none"}}))
    r = CliRunner().invoke(_app(), ["search", "roue crevaison", "--index", str(idx), "--explain"])
    assert r.exit_code == 0, r.output
    assert "from this index's tuning" in r.output and "'rerank': 'none'" in r.output


def test_eval_errors_are_one_line(tmp_path):
    r = CliRunner().invoke(_app(), ["eval", "make", "--index", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "no pisteur index" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(_app(), ["eval", "tune", "--index", str(tmp_path / "none")])
    assert r.exit_code == 1


def test_the_cli_default_query_makers_are_the_sets_defaults():
    from pisteur.cli.tune import DEFAULT_KINDS
    from pisteur.tune.synth import MakeOptions

    assert DEFAULT_KINDS == ",".join(MakeOptions().kinds)
