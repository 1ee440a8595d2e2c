"""The numpy adapter: exact gradient, identity at start, learns a distortion of the query space."""

from __future__ import annotations

import numpy as np

from pisteur.tune import adapter as ad
from pisteur.tune.artifacts import Adapter


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _triples(n: int, d: int, seed: int = 0, distortion: np.ndarray | None = None) -> ad.Triples:
    rng = np.random.default_rng(seed)
    p = _unit(rng.standard_normal((n, d)))
    m = distortion if distortion is not None else np.eye(d)
    q = _unit(p @ m.T + 0.05 * rng.standard_normal((n, d)))
    neg = _unit(p[rng.integers(0, n, (n, 2))] + 0.3 * rng.standard_normal((n, 2, d)))
    return ad.Triples(q.astype(np.float32), p, neg.astype(np.float32), [f"d{i}" for i in range(n)])


def test_gradient_matches_finite_differences():
    t = _triples(8, 6)
    rng = np.random.default_rng(1)
    w = (0.1 * rng.standard_normal((6, 6))).astype(np.float64)
    t64 = ad.Triples(t.q.astype(np.float64), t.p.astype(np.float64), t.n.astype(np.float64), t.docs)
    idx = np.arange(8)
    _, g = ad._forward(w, t64, idx, 20.0, True)
    eps = 1e-6
    for i, j in [(0, 0), (2, 3), (5, 1)]:
        wp, wm = w.copy(), w.copy()
        wp[i, j] += eps
        wm[i, j] -= eps
        num = (ad._forward(wp, t64, idx, 20.0, False)[0] - ad._forward(wm, t64, idx, 20.0, False)[0]) / (2 * eps)
        assert abs(num - g[i, j]) < 1e-5 * max(1.0, abs(num))


def test_zero_adapter_is_the_identity_and_skips_other_dims():
    a = Adapter(np.zeros((4, 4), np.float32))
    q = _unit(np.asarray([1.0, 2.0, 3.0, 4.0]))
    assert np.allclose(a.apply(q), q)
    other = np.ones(3, np.float32)
    assert a.apply(other) is other or np.array_equal(a.apply(other), other)


def test_training_undoes_a_rotation_of_the_query_space(tmp_path):
    d = 16
    rng = np.random.default_rng(3)
    rot, _ = np.linalg.qr(rng.standard_normal((d, d)))
    mix = 0.5 * np.eye(d) + 0.5 * rot  # queries live in a distorted space
    t = _triples(600, d, distortion=mix)
    adapter, info = ad.train(t, ad.AdapterOptions(epochs=40, lr=5e-3, weight_decay=0.0, patience=5))
    assert info["val_loss_best"] < info["val_loss_start"] * 0.9
    test = _triples(200, d, seed=9, distortion=mix)

    def acc(qs: np.ndarray) -> float:
        return float(np.mean(np.argmax(qs @ test.p.T, axis=1) == np.arange(len(qs))))

    assert acc(adapter.apply(test.q)) > acc(test.q)
    adapter.save(tmp_path / "a.npz")
    again = Adapter.load(tmp_path / "a.npz")
    assert np.allclose(again.w, adapter.w) and again.info["pairs"] == 600
