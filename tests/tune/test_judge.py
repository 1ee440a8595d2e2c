"""The per-kind rule: a change that helps the many queries and hurts a kind of few ones does not win."""

from __future__ import annotations

import numpy as np

from pisteur.tune.judge import SMALL, Judge, KindRule, kind_groups, stratified


def test_small_kinds_are_pooled():
    g = kind_groups(["a"] * 5 + ["b"] * 2 + ["c"] * 2, min_queries=3)
    assert set(g) == {"a", SMALL} and list(g[SMALL]) == [5, 6, 7, 8]
    assert set(kind_groups(["a"] * 5 + ["b"], min_queries=3)) == {"a"}  # a pool too small to judge alone
    assert set(kind_groups(["a", "b"], min_queries=3)) == {SMALL}  # nothing large: everything together


def test_the_many_do_not_outvote_the_few():
    kinds = ["cloze"] * 80 + ["standard"] * 20
    judge = Judge(kinds, KindRule(min_queries=10, kind_margin=0.01))
    old = np.r_[np.full(80, 0.5), np.full(20, 0.8)]
    new = np.r_[np.full(80, 0.6), np.full(20, 0.6)]  # pooled mean up 0.04, the written-out kind down 0.2
    assert new.mean() > old.mean() + 0.002
    kind, loss = judge.worst_loss(new, old)
    assert kind == "standard" and abs(loss - 0.2) < 1e-9
    assert not judge.wins(new, old, 0.002) and not judge.holds(new, old)
    fair = np.r_[np.full(80, 0.6), np.full(20, 0.795)]  # a loss within the kind margin
    assert judge.wins(fair, old, 0.002) and judge.holds(fair, old)


def test_macro_average_counts_each_kind_once():
    judge = Judge(["a"] * 90 + ["b"] * 10, KindRule(min_queries=5))
    s = np.r_[np.ones(90), np.zeros(10)]
    assert judge.score(s) == 0.5 and judge.by_kind(s) == {"a": 1.0, "b": 0.0}


def test_stratified_sample_keeps_small_kinds_whole():
    kinds = ["big"] * 1000 + ["small"] * 15
    picked = stratified(list(range(len(kinds))), kinds, 100)
    assert len(picked) == 100 and len(set(picked)) == 100
    assert sum(kinds[i] == "small" for i in picked) == 15
    big = [i for i in picked if kinds[i] == "big"]
    assert big[0] == 0 and big[-1] > 900  # spread through the kind, not its head
    assert stratified(list(range(5)), ["a"] * 5, 50) == [0, 1, 2, 3, 4]


def test_calibration_refuses_a_point_that_hurts_one_kind(tmp_path):
    """Coordinate search over fake scores: the lexical-heavy point helps the 80 pooled queries and costs the
    20 written-out ones; it is refused, and the harmless gain is kept."""
    from types import SimpleNamespace

    from pisteur.tune.calibrate import _Trials

    queries = [SimpleNamespace(kind="cloze")] * 80 + [SimpleNamespace(kind="standard")] * 20
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, 100)

    class Fake:
        def __init__(self) -> None:
            self.queries, self.calls = queries, 0

        def __call__(self, options: dict) -> np.ndarray:
            self.calls += 1
            s = np.r_[np.full(80, 0.5), np.full(20, 0.8)] + noise
            if options.get("weights", {}).get("lexical") == 2.5:
                s[:80] += 0.2
                s[80:] -= 0.3
            if options.get("rerank_depth") == 30:
                s += 0.05
            return s

    trials = _Trials(Fake(), tmp_path, 0.002, KindRule(min_queries=10))  # type: ignore[arg-type]
    assert not trials.attempt({"weights.lexical": 2.5})
    assert trials.log[-1]["veto"] == "standard"
    assert trials.attempt({"rerank_depth": 30}) and trials.point == {"rerank_depth": 30}
    micro = _Trials(Fake(), tmp_path, 0.002, KindRule(min_queries=10, kind_margin=1.0, objective="micro"))  # type: ignore[arg-type]
    assert micro.attempt({"weights.lexical": 2.5})  # what the pooled mean alone would have kept
