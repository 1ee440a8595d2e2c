import numpy as np
import pytest

from pisteur.retrieve.fusion import by_name, fuse, normalize_scores, rrf, weighted


def test_rrf_hand_computed():
    a = [("x", 9.0), ("y", 5.0), ("z", 1.0)]
    b = [("y", 0.9), ("w", 0.8)]
    out = dict(rrf([a, b], k=60))
    assert out["x"] == pytest.approx(1 / 61)
    assert out["y"] == pytest.approx(1 / 62 + 1 / 61)
    assert out["z"] == pytest.approx(1 / 63)
    assert out["w"] == pytest.approx(1 / 62)
    assert [d for d, _ in rrf([a, b], k=60)] == ["y", "x", "w", "z"]


def test_rrf_weights_and_k():
    a = [("x", 1.0), ("y", 0.5)]
    b = [("y", 1.0), ("x", 0.5)]
    # equal weights: a tie, broken by first appearance
    assert [d for d, _ in rrf([a, b])] == ["x", "y"]
    assert [d for d, _ in rrf([a, b], weights=[1, 2])] == ["y", "x"]
    out = dict(rrf([a], weights=[2.0], k=1))
    assert out["x"] == pytest.approx(2 / 2) and out["y"] == pytest.approx(2 / 3)


def test_normalize_minmax_and_zscore():
    assert normalize_scores([2, 4, 6], "minmax").tolist() == [0.0, 0.5, 1.0]
    assert normalize_scores([3, 3], "minmax").tolist() == [1.0, 1.0]
    z = normalize_scores([1, 2, 3], "zscore")
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    assert normalize_scores([5, 5, 5], "zscore").tolist() == [0, 0, 0]
    with pytest.raises(ValueError):
        normalize_scores([1], "rank")


def test_weighted_minmax_hand_computed():
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.5)]  # minmax: a 1, b 0.75, c 0
    lex = [("c", 10.0), ("d", 5.0), ("a", 0.0)]  # minmax: c 1, d 0.5, a 0
    out = dict(weighted([dense, lex], [1.0, 2.0], "minmax"))
    assert out == pytest.approx({"a": 1.0, "b": 0.75, "c": 2.0, "d": 1.0})
    assert [d for d, _ in weighted([dense, lex], [1.0, 2.0])][:1] == ["c"]


def test_weighted_zscore_missing_gets_the_floor():
    l1 = [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    l2 = [("a", 1.0), ("b", 0.0)]
    out = dict(weighted([l1, l2], norm="zscore"))
    z1 = normalize_scores([3, 2, 1], "zscore")
    z2 = normalize_scores([1, 0], "zscore")
    assert out["c"] == pytest.approx(z1[2] + z2.min())  # absent from l2: l2's lowest z, never better
    assert out["a"] == pytest.approx(z1[0] + z2[0])


def test_fuse_dispatch_errors_and_by_name():
    a = [(1, 1.0)]
    with pytest.raises(ValueError):
        fuse([a], "max")
    with pytest.raises(ValueError):
        rrf([a, a], weights=[1.0])
    lists = {"dense": [(1, 0.9), (2, 0.1)], "lexical": [(2, 5.0), (3, 1.0)]}
    only_dense = by_name(lists, {"dense": 1.0, "lexical": 0.0}, "rrf")
    assert [d for d, _ in only_dense] == [1, 2]
    assert fuse([], "rrf") == []
    assert np.isclose(dict(fuse([a], "weighted"))[1], 1.0)


def test_weighted_fill_uses_the_exact_score_with_the_lists_own_stats():
    dense = [("a", 0.9), ("b", 0.7)]  # minmax stats: lo 0.7, span 0.2
    lex = [("c", 4.0), ("a", 2.0)]
    plain = dict(weighted([dense, lex], norm="minmax"))
    assert plain["c"] == pytest.approx(0.0 + 1.0)  # absent from dense: floor 0
    filled = dict(weighted([dense, lex], norm="minmax", fill=[{"c": 0.8}, {"b": 0.0}]))
    assert filled["c"] == pytest.approx((0.8 - 0.7) / 0.2 + 1.0)
    assert filled["b"] == pytest.approx(0.0 + (0.0 - 2.0) / 2.0)  # BM25 0 is below the list's minimum
    with pytest.raises(ValueError):
        weighted([dense, lex], fill=[None])
