import math

import pytest

from pisteur.evaluate.metrics import evaluate, mrr_at, ndcg_at, per_query, precision_at, recall_at
from pisteur.evaluate.runfile import format_run, read_run, write_run


def test_ndcg_binary_and_graded_by_hand():
    rel = {"a": 1}
    assert ndcg_at(["a", "b"], rel, 10) == 1.0
    assert ndcg_at(["b", "a"], rel, 10) == pytest.approx(1 / math.log2(3))
    assert ndcg_at(["b"] * 0 + [f"x{i}" for i in range(10)] + ["a"], rel, 10) == 0.0
    graded = {"a": 2, "b": 1}
    dcg = 1 / math.log2(2) + 2 / math.log2(3)  # ranking b, a
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(["b", "a"], graded, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at(["a"], {"a": 0}, 10) == 0.0


def test_recall_precision_mrr_by_hand():
    rel = {"a": 1, "b": 1, "c": 0}
    ranking = ["c", "a", "x", "b"]
    assert recall_at(ranking, rel, 2) == 0.5
    assert recall_at(ranking, rel, 10) == 1.0
    assert precision_at(ranking, rel, 10) == pytest.approx(0.2)
    assert precision_at(ranking, rel, 2) == pytest.approx(0.5)
    assert mrr_at(ranking, rel, 10) == 0.5
    assert mrr_at(["x", "y"], rel, 10) == 0.0
    assert mrr_at(ranking, rel, 1) == 0.0


def test_evaluate_skips_unjudged_and_counts_missing_runs_as_zero():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    run = {"q1": ["a"], "q3": ["c"]}
    m = evaluate(run, qrels)
    assert m["ndcg@10"] == 0.5  # q1 = 1, q2 missing = 0, q3 unjudged (no relevant) skipped
    assert set(per_query(run, qrels)["mrr@10"]) == {"q1", "q2"}


def test_run_file_format_best_first_one_line_per_doc(tmp_path):
    run = {"q1": [("d2", 3.5), ("d1", 2.0), ("d2", 1.0)], "q2": [("d9", 0.1)]}
    text = format_run(run, "my tag")
    lines = text.splitlines()
    assert lines == [
        "q1 Q0 d2 1 3.500000 my_tag",
        "q1 Q0 d1 2 2.000000 my_tag",
        "q2 Q0 d9 1 0.100000 my_tag",
    ]
    p = tmp_path / "run.trec"
    write_run(p, run, "t")
    back = read_run(p)
    assert [d for d, _ in back["q1"]] == ["d2", "d1"]
