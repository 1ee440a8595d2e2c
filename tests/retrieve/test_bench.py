"""`pisteur bench` on a tiny hand-written BEIR folder (tests/fixtures/beir-tiny) with the test-only hash
embedder: the product index is built in the tmp cache, configurations run, outputs are checked."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pisteur.evaluate.beir import DatasetError, load_dataset, split_queries
from pisteur.evaluate.runfile import read_run
from pisteur.evaluate.runner import doc_ranking, parse_config
from pisteur.types import Hit

TINY = Path(__file__).parent.parent / "fixtures" / "beir-tiny"


def _app():
    from pisteur.cli import app

    return app


def test_load_dataset_and_split():
    ds = load_dataset(TINY)
    assert len(ds.corpus) == 10 and ds.corpus["d6"]["title"] == "Montagne"
    assert ds.qrels["q4"] == {"d6": 2, "d4": 0}
    assert list(ds.judged_queries()) == ["q1", "q2", "q3", "q4", "q5", "q6"]  # q7 has no judgment
    q = list(ds.judged_queries())
    tr, te = split_queries(q, "train"), split_queries(q, "test")
    assert sorted(tr + te) == sorted(q) and not set(tr) & set(te)
    with pytest.raises(DatasetError, match="corpus.jsonl"):
        load_dataset(TINY.parent)


def test_parse_config_and_doc_dedupe():
    c = parse_config("hybrid@usem3,fusion=rrf,weights.dense=0.5,rerank=none,rerank_depth=40")
    assert c.model == "usem3" and c.options["fusion"] == "rrf" and c.options["weights"] == {"dense": 0.5}
    assert c.options["rerank_depth"] == 40 and c.options["rerank"] == "none"
    with pytest.raises(ValueError, match="unknown configuration"):
        parse_config("magic")
    hits = [Hit(1, 3.0, "document", "beir:x/d6", "a", {"doc_id": "d6"}),
            Hit(2, 2.0, "document", "beir:x/d1", "b", {"doc_id": "d1"}),
            Hit(3, 1.5, "document", "beir:x/d6", "c", {"doc_id": "d6"})]
    assert doc_ranking(hits, 10) == [("d6", 3.0), ("d1", 2.0)]  # max over chunks, one line per document
    assert doc_ranking(hits, 1) == [("d6", 3.0)]


def test_bench_cli_end_to_end(tmp_path):
    ds = tmp_path / "beir-tiny"
    shutil.copytree(TINY, ds)
    run_file, report = tmp_path / "run.trec", tmp_path / "report.html"
    args = ["bench", str(ds), "--model", "test-hash:tiny", "--chunk-size", "24",
            "-c", "bm25;dense;hybrid", "-c", "default", "--run-file", str(run_file), "--run-config", "bm25",
            "--report", str(report), "--json"]
    res = CliRunner().invoke(_app(), args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout[res.stdout.index("{"):])
    assert [r["config"] for r in doc["results"]] == ["bm25", "dense", "hybrid", "default"]
    assert doc["dataset"]["queries"] == 6
    for r in doc["results"]:
        assert set(r["metrics"]) == {"ndcg@10", "recall@10", "recall@100", "mrr@10", "p@10"}
        assert all(0.0 <= v <= 1.0 for v in r["metrics"].values())
        assert r["latency_ms"]["p95"] >= r["latency_ms"]["p50"] >= 0
    bm25 = doc["results"][0]["metrics"]
    assert bm25["recall@100"] == 1.0 and bm25["ndcg@10"] > 0.8  # hand-written queries share words
    (info,) = doc["indexes"].values()
    assert info["chunks"] > 10  # d6 was cut into several chunks ...
    lines = run_file.read_text().splitlines()
    assert all(re.fullmatch(r"q\d \S+ d\d+ \d+ -?\d+\.\d{6} pisteur-bm25", ln) for ln in lines)
    assert all(ln.split()[1] == "Q0" for ln in lines)
    run = read_run(run_file)
    for ranking in run.values():  # ... but each document appears once per query, best first
        docs = [d for d, _ in ranking]
        assert len(docs) == len(set(docs))
        scores = [s for _, s in ranking]
        assert scores == sorted(scores, reverse=True)
    assert [int(ln.split()[3]) for ln in lines if ln.startswith("q1 ")][:3] == [1, 2, 3]
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 2
    assert "<script" not in html and not re.search(r"""(src|href)=["']?https?:""", html)
    assert "nDCG@10" in html and "default" in html
    # a second run re-uses the index (nothing re-embedded)
    res2 = CliRunner().invoke(_app(), ["bench", str(ds), "--model", "test-hash:tiny", "--chunk-size", "24",
                                       "-c", "bm25", "--json"])
    assert res2.exit_code == 0, res2.output
    doc2 = json.loads(res2.stdout[res2.stdout.index("{"):])
    assert next(iter(doc2["indexes"].values()))["reused"] is True


def test_bench_cli_errors(tmp_path):
    res = CliRunner().invoke(_app(), ["bench", str(tmp_path), "--model", "test-hash:tiny"])
    assert res.exit_code == 2 and "corpus.jsonl" in res.output
    res = CliRunner().invoke(_app(), ["bench", str(TINY), "--model", "test-hash:tiny", "-c", "magic"])
    assert res.exit_code == 2 and "unknown configuration" in res.output
    res = CliRunner().invoke(_app(), ["bench", str(TINY), "-c", "bm25@nosuchbackend:x"])
    assert res.exit_code == 2 and "nosuchbackend" in res.output


@pytest.mark.slow
def test_bench_tune_and_bakeoff(tmp_path):
    ds = tmp_path / "beir-tiny"
    shutil.copytree(TINY, ds)
    run_file, report = tmp_path / "run.trec", tmp_path / "report.html"
    args = ["bench", str(ds), "--model", "test-hash:tiny", "--model", "test-hash:other", "--chunk-size", "24",
            "-c", "dense;default", "--tune", "--run-file", str(run_file), "--report", str(report), "--json"]
    res = CliRunner().invoke(_app(), args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout[res.stdout.index("{"):])
    labels = [r["config"] for r in doc["results"]]
    assert labels == ["dense@test-hash:tiny", "dense@test-hash:tiny tuned", "dense@test-hash:other",
                      "dense@test-hash:other tuned", "default@test-hash:tiny", "default@test-hash:tiny tuned",
                      "default@test-hash:other", "default@test-hash:other tuned"]
    tuned = [r for r in doc["results"] if r["config"].endswith(" tuned")]
    assert all(r["options"]["tuning"].endswith(".tune") for r in tuned)
    assert all(r["options"]["tuning"] is False for r in doc["results"] if r not in tuned)
    pairs = {p["config"]: p for p in doc["tuning"]["pairs"]}
    assert set(pairs) == {lb for lb in labels if not lb.endswith(" tuned")}
    for rep in doc["tuning"]["reports"].values():  # made from the 10 corpus documents, not the 7 queries
        assert rep["set"]["documents"] == 10
    rows = doc["bakeoff"]["rows"]
    assert {r["model"] for r in rows} == {"test-hash:tiny", "test-hash:other"}
    assert all("fr" in r["by_language"] and r["build_seconds"] is not None for r in rows)
    rec = doc["bakeoff"]["recommendation"]
    assert rec.startswith(tuple(r["model"] for r in rows)) and "nDCG@10" in rec
    assert read_run(run_file) and run_file.read_text().split()[5].startswith("pisteur-default@test-hash")
    assert run_file.read_text().splitlines()[0].endswith("tuned")
    html = report.read_text()
    assert "Model bake-off" in html and "Recommended:" in html and "Tuned to the corpus" in html


def test_bakeoff_checks_each_model_against_a_second_runtime(tmp_path):
    """A model whose vectors match its reference passes; one whose reference gives other vectors fails, and the
    recommendation warns about it; a model without a reference says so."""
    args = ["bench", str(TINY), "-m", "test-hash:tiny", "-m", "test-hash:other", "--chunk-size", "24", "-c", "dense",
            "--cache", str(tmp_path), "--json", "--reference", "test-hash:tiny=test-hash:tiny",
            "--reference", "test-hash:other=test-hash:other@32d"]
    res = CliRunner().invoke(_app(), args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout[res.stdout.index("{"):])
    rows = {r["model"]: r["verify"] for r in doc["bakeoff"]["rows"]}
    assert rows["test-hash:tiny"]["passed"] is True and rows["test-hash:tiny"]["mean_cosine"] > 0.999
    assert rows["test-hash:other"]["passed"] is False
    assert "warning" in doc["bakeoff"]["recommendation"] and "test-hash:other" in doc["bakeoff"]["recommendation"]
    bad = CliRunner().invoke(_app(), [*args[:-2], "--reference", "no-equals-sign"])
    assert bad.exit_code == 2 and "MODEL=SPEC" in bad.output
    single = CliRunner().invoke(_app(), ["bench", str(TINY), "-m", "test-hash:tiny", "--chunk-size", "24", "-c",
                                         "dense", "--cache", str(tmp_path), "--json"])
    assert "verify" not in json.loads(single.stdout[single.stdout.index("{"):])["indexes"]["test-hash:tiny"]


def test_a_faster_model_is_recommended_only_when_as_good_on_every_configuration():
    from pisteur.evaluate.bakeoff import recommend

    def row(model, default, dense, p50):
        return {"model": model, "ndcg@10": default, "p50_ms": p50, "build_seconds": 10.0,
                "ndcg_by_config": {"default": default, "dense": dense}}

    strong, fast = row("strong", 0.897, 0.681, 26.0), row("fast", 0.887, 0.597, 9.6)
    assert recommend([strong, fast]).startswith("strong:")  # close on the pipeline, far behind alone
    fast_and_good = row("fast", 0.890, 0.676, 9.6)
    assert recommend([strong, fast_and_good]).startswith("fast:")
