"""``pisteur bench --tune-full``: the model fine-tuned on the corpus's synthetic queries, the corpus indexed
again with it, one more row per configuration (a tiny BERT built in the test)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

TINY = Path(__file__).parent.parent / "fixtures" / "beir-tiny"


@pytest.mark.slow
def test_bench_tune_full_adds_a_finetuned_row(tmp_path):
    pytest.importorskip("sentence_transformers")
    from embed.tiny_models import build_tiny_bert

    from pisteur.cli import app

    _, st_dir = build_tiny_bert(tmp_path / "m")
    ds = tmp_path / "beir-tiny"
    shutil.copytree(TINY, ds)
    args = ["bench", str(ds), "--model", f"st:{st_dir}", "--chunk-size", "24", "-c", "dense;default",
            "--tune-full", "--cache", str(tmp_path / "cache"), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout[res.stdout.index("{"):])
    labels = [r["config"] for r in doc["results"]]
    assert labels == ["dense", "dense tuned", "dense fine-tuned", "default", "default tuned", "default fine-tuned"]
    tuned = [r for r in doc["results"] if r["config"].endswith("fine-tuned")]
    assert all(r["model"].startswith("st:") and r["model"].endswith(".finetuned") for r in tuned)
    assert all(Path(r["model"].removeprefix("st:"), "modules.json").is_file() for r in tuned)
    assert len(doc["indexes"]) == 2  # the corpus indexed with the base model and with the fine-tuned one
    pairs = {p["config"]: p for p in doc["tuning"]["pairs"]}
    assert pairs["default fine-tuned"]["tuning"] == "fine-tuned" and pairs["default"]["tuning"] == "tuned"
    report = next(iter(doc["tuning"]["reports"].values()))["finetune"]
    assert report["steps"] >= 1 and report["pairs"] >= 4


@pytest.mark.slow
def test_bench_tune_full_skips_a_model_torch_cannot_load(tmp_path):
    from pisteur.cli import app

    args = ["bench", str(TINY), "--model", "test-hash:tiny", "--chunk-size", "24", "-c", "dense", "--tune-full",
            "--cache", str(tmp_path / "cache"), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "can be fine-tuned" in " ".join(res.output.split())  # the warning, however wrapped
    doc = json.loads(res.stdout[res.stdout.index("{"):])
    assert [r["config"] for r in doc["results"]] == ["dense", "dense tuned"]
