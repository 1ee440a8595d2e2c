"""The Milvus engine against Milvus Lite 2.5 (the real Milvus core, French analyzer, BM25). Small on purpose:
inserts are slow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from pisteur.store.base import Filters, SourceState  # noqa: E402
from pisteur.store.milvus import MilvusStore, filter_expr  # noqa: E402
from pisteur.types import Chunk  # noqa: E402

pytestmark = pytest.mark.milvus
D = 16
DOCS = {
    "/cases/pv1.txt": [
        ("Procès-verbal d'audition : le mis en cause a été placé en garde à vue à 14h.", "document",
         {"project": "affaire-a", "ts_first": "2026-01-10T10:00:00Z", "ts_last": "2026-01-10T11:00:00Z"}),
        ("Les universités françaises accueillent des élèves étrangers.", "document",
         {"project": "affaire-a", "ts_first": "2026-01-12T10:00:00Z", "ts_last": "2026-01-12T10:00:00Z"}),
    ],
    "/cases/sms.csv": [
        ("rdv demain 18h a la gare, ramene le matos", "message",
         {"project": "affaire-b", "session_id": "abc123", "ts_first": "2026-02-01T18:00:00Z",
          "ts_last": "2026-02-01T18:00:00Z"}),
        ("nique la police", "message",
         {"project": "affaire-b", "session_id": "abc124", "ts_first": "2026-03-01T09:00:00Z",
          "ts_last": "2026-03-01T09:00:00Z"}),
    ],
}


def vec(text: str) -> np.ndarray:
    rng = np.random.default_rng(abs(hash(text)) % 2**32)
    v = rng.standard_normal(D).astype(np.float32)
    return v / np.linalg.norm(v)


def write(store: MilvusStore, path: str, items: list, from_offset: int | None = None) -> list[int]:
    chunks = [Chunk(text=t, kind=k, meta=m, line_start=i + 1, line_end=i + 1, byte_start=i * 100,
                    byte_end=i * 100 + 99) for i, (t, k, m) in enumerate(items)]
    st = SourceState(path=path, size=1, mtime_ns=1, fingerprint="f", reader="text", chunks=len(chunks))
    with store.writer() as w:
        ids = w.upsert_source(st, chunks, np.stack([vec(c.text) for c in chunks]), from_offset=from_offset)
    return ids


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MilvusStore:
    path = tmp_path_factory.mktemp("mv") / "m.db"
    s = MilvusStore(str(path), readonly=False)
    s.create({"model": {"spec": "test-hash", "dims": D}, "vectors": {"index": "flat"}})
    for p, items in DOCS.items():
        write(s, p, items)
    return s


def test_dense_and_lexical_with_french_analysis(store: MilvusStore) -> None:
    from pisteur.retrieve.analysis import analyze

    hits = store.dense_search(vec(DOCS["/cases/sms.csv"][0][0]), 2)
    assert store.get([hits[0][0]])[0].text.startswith("rdv demain")
    # "université" (accent, singular) matches "universités" through the French analysis
    lex = store.lexical_search(analyze("université"), 5)
    assert len(lex) == 1 and "universités" in store.get([lex[0][0]])[0].text
    lex = store.lexical_search(analyze("gardes à vue"), 5)
    assert lex and "garde à vue" in store.get([lex[0][0]])[0].text
    assert store.lexical_search(analyze("le la les"), 5) == []  # stop words only


def test_hybrid_rrf_and_weighted(store: MilvusStore) -> None:
    from pisteur.retrieve.analysis import analyze

    q = vec(DOCS["/cases/pv1.txt"][0][0])
    text = " ".join(analyze("garde à vue"))
    for ranker in ("rrf", "weighted"):
        hits = store.hybrid_search(q, text, 3, ranker=ranker, weights=(0.3, 0.7))
        assert "garde à vue" in store.get([hits[0][0]])[0].text
        assert len(hits) == 3 and hits[0][1] >= hits[-1][1]


def test_filters(store: MilvusStore) -> None:
    q = vec("nique la police")
    only_b = store.dense_search(q, 10, Filters(project="affaire-b"))
    assert {h.meta["project"] for h in store.get([i for i, _ in only_b])} == {"affaire-b"}
    assert len(store.dense_search(q, 10, Filters(kinds=["document"]))) == 2
    assert len(store.dense_search(q, 10, Filters(session="abc12"))) == 2
    assert len(store.dense_search(q, 10, Filters(session="abc124"))) == 1
    assert len(store.dense_search(q, 10, Filters(date_from="2026-02-15"))) == 1
    assert len(store.dense_search(q, 10, Filters(date_to="2026-01-10"))) == 1
    assert len(store.dense_search(q, 10, Filters(source="sms"))) == 2
    assert filter_expr(Filters(project='a"b%')) == 'project like "%a\\"b\\\\%%"'


def test_delete_upsert_neighbours_vectors(store: MilvusStore) -> None:
    old = {i for i, _ in store.dense_search(vec("x"), 10, Filters(source="sms"))}
    ids = write(store, "/cases/sms.csv", DOCS["/cases/sms.csv"] + [("appelle moi", "message", {})])
    assert len(ids) == 3 and not old & set(ids)  # replaced under new ids, old rows gone
    assert len(store.dense_search(vec("x"), 10, Filters(source="sms"))) == 3
    assert store.sources()["/cases/sms.csv"].chunks == 3
    nb = store.neighbours(ids[1], 1, 1)
    assert [h.meta["ord"] for h in nb] == [0, 1, 2]
    np.testing.assert_allclose(store.vectors([ids[2]])[0], vec("appelle moi"), atol=1e-6)
    with store.writer() as w:
        assert w.delete_source("/cases/sms.csv") == 3
    assert "/cases/sms.csv" not in store.sources()
    assert store.dense_search(vec("x"), 10, Filters(source="sms")) == []
    assert store.stats()["chunks"] == 2
    for p, items in DOCS.items():  # restore for other tests
        if p == "/cases/sms.csv":
            write(store, p, items)


def test_reopen_readonly(store: MilvusStore, tmp_path: Path) -> None:
    ro = MilvusStore(store.uri, readonly=True) if False else store  # Lite allows one client per file
    assert ro.manifest()["engine"] == "milvus" and ro.manifest()["model"]["dims"] == D
    assert ro.generation() >= 3
    with pytest.raises(FileNotFoundError):
        MilvusStore(str(tmp_path / "empty.db"), readonly=True)


def test_weighted_fusion_orients_bm25(store: MilvusStore) -> None:
    from pisteur.retrieve.analysis import analyze

    text = " ".join(analyze("universités"))
    far = vec("zzz")  # a dense query unrelated to every document
    lexical_only = store.hybrid_search(far, text, 1, ranker="weighted", weights=(0.0, 1.0))
    assert "universités" in store.get([lexical_only[0][0]])[0].text
