"""The quantised vector layer: precisions, search modes, deletions, generations, filters, shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pisteur.store import vectors_quant as vq
from pisteur.store.shards import BinaryShards
from pisteur.store.vectors import open_vector_index

D = 64


def clustered(n: int, seed: int = 0, d: int = D) -> np.ndarray:
    """Unit vectors around a few hundred centres (closer to real embeddings than isotropic noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(4, n // 20), d)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def near(x: np.ndarray, n: int, seed: int = 5) -> np.ndarray:
    """Queries close to (but not equal to) stored vectors."""
    rng = np.random.default_rng(seed)
    q = x[rng.integers(0, len(x), n)] + 0.1 * rng.standard_normal((n, x.shape[1])).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def exact(x: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    return ids[np.argsort(-(x @ q), kind="stable")[:k]].tolist()


def recall(got: np.ndarray, want: list[int]) -> float:
    return len(set(got.tolist()) & set(want)) / len(want)


def build(tmp: Path, n: int = 3000, **cfg: object) -> tuple[vq.QuantVectors, np.ndarray, np.ndarray]:
    x = clustered(n)
    ids = np.arange(100, 100 + n, dtype=np.int64)
    idx = vq.QuantVectors(tmp, D, 0, **cfg)  # type: ignore[arg-type]
    idx.add(ids, x)
    idx.flush(1)
    return idx, x, ids


@pytest.mark.parametrize("precision,floor", [("float32", 1.0), ("float16", 0.99), ("int8", 0.95),
                                             ("binary", 0.9)])
def test_round_trip_and_exact_recall_per_precision(tmp_path: Path, precision: str, floor: float) -> None:
    idx, x, ids = build(tmp_path, precision=precision, search="auto")
    reopened = open_vector_index(tmp_path, D, 1, vq.config_for(precision, "auto"))
    assert isinstance(reopened, vq.QuantVectors) and reopened.effective_mode() == "flat"
    assert len(reopened) == len(x) == len(idx)
    rec = reopened.reconstruct(ids[[5, 0, 77]])
    assert rec.shape == (3, D)
    cos = np.sum(rec * x[[5, 0, 77]], axis=1) / np.linalg.norm(rec, axis=1)
    assert cos.min() > (0.999 if precision != "binary" else 0.95)
    qs = near(x, 20)
    r = np.mean([recall(reopened.search(q, 10)[0], exact(x, ids, q, 10)) for q in qs])
    assert r >= floor
    got, scores = reopened.search(qs[0], 10)
    assert np.all(np.diff(scores) <= 1e-6) and got.dtype == np.int64


def test_binary_precision_keeps_int8_rescoring_file(tmp_path: Path) -> None:
    build(tmp_path, n=500, precision="binary", search="binary")
    fine = np.load(next(tmp_path.glob("q-*.fine.npy")))
    bits = np.load(next(tmp_path.glob("q-*.bits.npy")))
    assert fine.dtype == np.int8 and fine.shape == (500, D)
    assert bits.dtype == np.uint8 and bits.shape == (500, D // 8)
    assert list(tmp_path.glob("qcal-*.npy"))  # calibration stored in the index


def test_rescoring_improves_recall(tmp_path: Path) -> None:
    d = 256
    x = clustered(4000, 1, d)
    ids = np.arange(4000, dtype=np.int64)
    raw = vq.QuantVectors(tmp_path / "a", d, 0, precision="binary", rescore="none", search="binary")
    res = vq.QuantVectors(tmp_path / "b", d, 0, precision="binary", rescore="int8", search="binary",
                          rescore_k=200)
    for idx in (raw, res):
        idx.add(ids, x)
        idx.flush(1)
    qs = near(x, 30)
    r_raw = np.mean([recall(raw.search(q, 10)[0], exact(x, ids, q, 10)) for q in qs])
    r_res = np.mean([recall(res.search(q, 10)[0], exact(x, ids, q, 10)) for q in qs])
    assert r_res > r_raw + 0.1 and r_res >= 0.9


def test_int8_calibration_from_first_batch_persists(tmp_path: Path) -> None:
    idx, x, _ = build(tmp_path, n=800, precision="int8")
    cal = idx.calibration
    assert cal is not None and cal.samples == 800
    idx.add(np.arange(10_000, 10_100), clustered(100, 3))
    idx.flush(2)
    assert idx.calibration is not None
    np.testing.assert_array_equal(idx.calibration.step, cal.step)  # later batches reuse it
    assert vq.QuantVectors(tmp_path, D, 2, precision="int8").calibration.samples == 800


@pytest.mark.parametrize("mode", ["flat", "binary"])
def test_deletions_and_incremental_updates(tmp_path: Path, mode: str) -> None:
    idx, x, ids = build(tmp_path, n=1000, precision="int8", search=mode)
    q = x[10]
    assert idx.search(q, 1)[0][0] == ids[10]
    idx.remove(ids[[10]])
    idx.add(np.array([5000]), x[[10]])  # the chunk re-embedded under a new id (an upsert)
    idx.flush(2)
    got = idx.search(q, 5)[0].tolist()
    assert got[0] == 5000 and ids[10] not in got
    assert len(idx) == 1000
    with pytest.raises(KeyError):
        idx.reconstruct(np.array([ids[10]]))


def test_generations_ignore_uncommitted_files(tmp_path: Path) -> None:
    idx, x, ids = build(tmp_path, n=200, precision="float16", search="flat")
    idx.add(np.array([900, 901]), clustered(2, 7))
    idx.remove(ids[:50])
    idx.flush(2)  # a writer flushed G=2 and crashed before its SQLite commit
    old = vq.QuantVectors(tmp_path, D, 1, precision="float16")
    assert len(old) == 200 and 900 not in old.search(clustered(2, 7)[0], 5)[0].tolist()
    assert old.search(x[0], 1)[0][0] == ids[0]
    new = vq.QuantVectors(tmp_path, D, 2, precision="float16")
    assert len(new) == 152 and new.search(clustered(2, 7)[0], 1)[0][0] == 900
    # the next writer, opened at the committed G=1, overwrites the crashed G=2 files
    nxt = vq.QuantVectors(tmp_path, D, 1, precision="float16")
    nxt.add(np.array([950]), clustered(1, 8))
    nxt.flush(2)
    again = vq.QuantVectors(tmp_path, D, 2, precision="float16")
    assert len(again) == 201 and 900 not in again._ids.tolist()


def test_no_tmp_files_left_and_compaction_keeps_results(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(vq, "COMPACT_SEGMENTS", 3)
    x = clustered(600, 4)
    idx = vq.QuantVectors(tmp_path, D, 0, precision="int8", search="flat")
    for g in range(1, 7):
        idx.add(np.arange((g - 1) * 100, g * 100), x[(g - 1) * 100 : g * 100])
        if g == 4:
            idx.remove(np.arange(0, 20))
        idx.flush(g)
    assert not list(tmp_path.glob("*.tmp"))
    assert list(tmp_path.glob("qbase-*"))
    assert len(idx) == 580
    assert len(idx._seg_ids) <= 3
    fresh = vq.QuantVectors(tmp_path, D, 6, precision="int8")
    q = x[300]
    assert fresh.search(q, 1)[0][0] == 300
    assert not set(range(20)) & set(fresh.search(x[5], 50)[0].tolist())


@pytest.mark.parametrize("mode", ["flat", "binary"])
def test_very_selective_filter_is_exact(tmp_path: Path, mode: str, monkeypatch) -> None:
    idx, x, ids = build(tmp_path, n=3000, precision="binary", search=mode)
    q = clustered(1, 11)[0]
    allowed = np.sort(ids[[3, 1500, 2999]])
    got, _ = idx.search(q, 10, allowed)
    assert sorted(got.tolist()) == allowed.tolist()
    # a larger filter through the faiss ID bitmap (force the bitmap path)
    monkeypatch.setattr(vq, "EXACT_SUBSET_MAX", 0)
    allowed = np.sort(ids[::7])
    got, _ = idx.search(q, 10, allowed)
    assert set(got.tolist()) <= set(allowed.tolist()) and len(got) == 10
    sub = np.isin(ids, allowed)
    assert recall(got, exact(x[sub], ids[sub], q, 10)) >= 0.8


def test_shard_merge_equals_single_scan() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (120_000, 16), dtype=np.uint8)
    single = BinaryShards([codes], 128, threads=1)
    multi = BinaryShards([codes[:50_000], codes[50_000:]], 128, threads=2)
    assert len(multi.indexes) == 2 and len(single.indexes) == 1
    q = codes[123]
    r1, d1 = single.search(q, 50)
    r2, d2 = multi.search(q, 50)
    np.testing.assert_array_equal(d1, d2)
    assert r1[0] == r2[0] == 123
    mask = np.zeros(len(codes), bool)
    mask[::1000] = True
    r3, _ = multi.search(q, 500, mask)
    assert sorted(r3.tolist()) == list(range(0, 120_000, 1000))


def test_auto_switches_to_binary_when_large(tmp_path: Path, monkeypatch) -> None:
    idx, x, ids = build(tmp_path, n=500, precision="int8", search="auto")
    assert idx.effective_mode() == "flat"
    monkeypatch.setattr(vq, "AUTO_FLAT_MAX", 100 * D)
    assert idx.effective_mode() == "binary"
    assert idx.search(x[42], 1)[0][0] == ids[42]


def test_registry_names_and_plain_flat(tmp_path: Path) -> None:
    from pisteur.store.vectors import vector_index_names
    from pisteur.store.vectors_flat import FlatVectors

    assert {"auto", "flat", "binary"} <= set(vector_index_names())
    assert isinstance(open_vector_index(tmp_path, D, 0, {"index": "flat"}), FlatVectors)
    assert isinstance(open_vector_index(tmp_path, D, 0, {"index": "flat", "precision": "int8"}),
                      vq.QuantVectors)
    with pytest.raises(ValueError):
        vq.config_for("int4")


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_faiss_ann_generations_deletions_filters(tmp_path: Path, kind: str, monkeypatch) -> None:
    from pisteur.store.vectors_faiss import FaissVectors

    x = clustered(3000, 2)
    ids = np.arange(3000, dtype=np.int64)
    idx = open_vector_index(tmp_path, D, 0, vq.config_for("int8", kind, rescore_k=100, nprobe=64))
    assert isinstance(idx, FaissVectors)
    idx.add(ids[:2000], x[:2000])
    idx.flush(1)
    idx.add(ids[2000:], x[2000:])
    idx.remove(ids[:10])
    idx.flush(2)
    assert list(tmp_path.glob("ann-00000002.faiss"))
    qs = near(x, 20)
    r = np.mean([recall(idx.search(q, 10)[0], exact(x[10:], ids[10:], q, 10)) for q in qs])
    assert r >= 0.85
    at1 = open_vector_index(tmp_path, D, 1, vq.config_for("int8", kind))
    assert len(at1) == 2000 and at1.search(x[2500], 1)[0][0] != 2500
    at2 = open_vector_index(tmp_path, D, 2, vq.config_for("int8", kind))
    assert at2.search(x[2500], 1)[0][0] == 2500
    assert not set(range(10)) & set(at2.search(x[3], 20)[0].tolist())  # deleted ids never come back
    allowed = np.arange(0, 3000, 2, dtype=np.int64)
    got = at2.search(x[12], 10, allowed)[0]
    assert got[0] == 12 and set(got.tolist()) <= set(allowed.tolist())
    import pisteur.store.vectors_faiss as vf

    monkeypatch.setattr(vf, "EXACT_SUBSET_MAX", 0)  # through the faiss IDSelector
    got = at2.search(x[12], 10, allowed)[0]
    assert got[0] == 12 and set(got.tolist()) <= set(allowed.tolist())


def test_ids_out_of_order(tmp_path: Path) -> None:
    x = clustered(300, 12)
    ids = np.random.default_rng(0).permutation(np.arange(1000, 1300)).astype(np.int64)
    idx = vq.QuantVectors(tmp_path, D, 0, precision="int8", search="binary")
    idx.add(ids, x)
    idx.flush(1)
    idx.remove(ids[[7]])
    idx.flush(2)
    assert idx.search(x[3], 1)[0][0] == ids[3]
    np.testing.assert_allclose(idx.reconstruct(ids[[5, 2]]), x[[5, 2]], atol=0.02)
    got, _ = idx.search(x[9], 5, np.sort(ids[[9, 7, 11]]))
    assert sorted(got.tolist()) == sorted([ids[9], ids[11]])


def test_reader_survives_a_writer_compacting_under_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(vq, "COMPACT_SEGMENTS", 2)
    x = clustered(400, 13)
    w = vq.QuantVectors(tmp_path, D, 0, precision="int8", search="binary")
    w.add(np.arange(200), x[:200])
    w.flush(1)
    reader = vq.QuantVectors(tmp_path, D, 1, precision="int8", search="binary")  # opened at G=1, no search yet
    w.add(np.arange(200, 300), x[200:300])
    w.flush(2)
    w.add(np.arange(300, 350), x[300:350])
    w.flush(3)  # third segment: compaction, base at 3
    w.add(np.arange(350, 400), x[350:400])
    w.flush(4)  # deletes the files older than the base, which the reader still maps
    assert list(tmp_path.glob("qbase-00000003")) and not list(tmp_path.glob("q-00000001.*"))
    assert reader.search(x[5], 1)[0][0] == 5 and len(reader) == 200
    assert reader.reconstruct(np.array([7])).shape == (1, D)


def test_ivf_retrains_when_grown_and_hnsw_rebuilds_when_dead(tmp_path: Path, monkeypatch) -> None:
    import pisteur.store.vectors_faiss as vf

    x = clustered(2400, 14)
    ivf = open_vector_index(tmp_path / "ivf", D, 0, {"index": "ivf", "precision": "int8", "nprobe": 64})
    ivf.add(np.arange(100), x[:100])
    ivf.flush(1)
    nlist_small = ivf._ann.nlist
    ivf.add(np.arange(100, 2400), x[100:])
    ivf.flush(2)
    assert ivf._ann_trained_on == 2400 and ivf._ann.nlist > nlist_small
    assert ivf.search(x[2000], 1)[0][0] == 2000
    monkeypatch.setattr(vf, "REBUILD_DEAD_FRACTION", 0.1)
    hnsw = open_vector_index(tmp_path / "hnsw", D, 0, {"index": "hnsw", "precision": "int8"})
    hnsw.add(np.arange(1000), x[:1000])
    hnsw.flush(1)
    hnsw.remove(np.arange(200))
    hnsw.flush(2)
    assert len(hnsw._ann_dead) == 0 and hnsw._ann.ntotal == 800  # rebuilt without the dead
    assert hnsw.search(x[500], 1)[0][0] == 500
