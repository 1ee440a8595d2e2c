"""Store safety: --rebuild never wipes a foreign folder, a broken index.sqlite is a one-line error, a
crashed writer's temp files go, readers survive a compaction, an older index is migrated in place."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from helpers import HashEmbedder
from typer.testing import CliRunner

from pisteur.cli import app
from pisteur.indexer import index_paths
from pisteur.store import manifest as mf
from pisteur.store import open_store
from pisteur.store.local import CorruptIndex, LocalStore


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("Procès-verbal d'audition du témoin.", encoding="utf-8")
    (root / "b.txt").write_text("La perquisition a permis de saisir un couteau.", encoding="utf-8")
    return root


def test_rebuild_refuses_a_folder_that_is_not_an_index(tmp_path, docs):
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "vacances.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(ValueError, match="not a pisteur index"):
        index_paths(precious, [docs], embedder=HashEmbedder(), rebuild=True)
    assert (precious / "vacances.jpg").exists()
    r = CliRunner().invoke(app, ["index", str(docs), "--index", str(precious), "--model", "test-hash:x",
                                 "--rebuild", "--quiet"])
    out = " ".join(r.output.split())  # rich wraps long lines
    assert r.exit_code == 1 and "not a pisteur index" in out and "Traceback" not in out
    assert (precious / "vacances.jpg").exists()
    # an index, or an empty folder, is rebuilt
    idx = tmp_path / "idx"
    index_paths(idx, [docs], embedder=HashEmbedder())
    assert index_paths(idx, [docs], embedder=HashEmbedder(), rebuild=True).added == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert index_paths(empty, [docs], embedder=HashEmbedder(), rebuild=True).added == 2


@pytest.mark.parametrize("content", [b"", b"this is not sqlite at all" * 100])
def test_empty_or_corrupt_sqlite_is_a_one_line_error(tmp_path, content):
    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / "index.sqlite").write_bytes(content)
    with pytest.raises(CorruptIndex, match="empty or corrupt"):
        LocalStore(idx, readonly=True)
    for cmd in (["status"], ["search", "témoin"]):
        r = CliRunner().invoke(app, [*cmd, "--index", str(idx)])
        out = " ".join(r.output.split())
        assert r.exit_code == 1
        assert "empty or corrupt" in out and "no such table" not in out and "Traceback" not in out


def test_crashed_writer_temp_files_are_cleaned_on_next_writer_open(tmp_path, docs):
    idx = tmp_path / "idx"
    index_paths(idx, [docs], embedder=HashEmbedder())
    (idx / "manifest.json.tmp").write_text("{half", encoding="utf-8")
    (idx / "vectors" / "seg-00000009.vec.npy.tmp").write_bytes(b"half")
    open_store(idx)  # a reader leaves them (a writer may be live)
    assert (idx / "manifest.json.tmp").exists()
    store = LocalStore(idx, readonly=False)
    with store.writer():
        pass
    assert not list(idx.rglob("*.tmp"))


def test_reader_retries_when_a_compaction_removed_its_generation(tmp_path, docs, monkeypatch):
    idx = tmp_path / "idx"
    index_paths(idx, [docs], embedder=HashEmbedder())
    import pisteur.store.local as local

    real = local.open_vector_index
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 1:
            raise FileNotFoundError("seg-00000002.vec.npy")
        return real(*a, **k)

    monkeypatch.setattr(local, "open_vector_index", flaky)
    store = LocalStore(idx, readonly=True)
    assert calls["n"] == 2 and len(store.vector_index) == 2


def _downgrade_to_schema_1(idx: Path) -> None:
    """Make ``idx`` look exactly like an index written before content hashes and dense states."""
    con = sqlite3.connect(idx / "index.sqlite")
    con.execute("DROP INDEX chunks_hash")
    con.execute("DROP INDEX chunks_pending")
    for col in ("text_hash", "dense", "prio"):
        con.execute(f"ALTER TABLE chunks DROP COLUMN {col}")
    con.commit()
    con.close()
    data = json.loads((idx / "manifest.json").read_text(encoding="utf-8"))
    data["schema_version"] = 1
    (idx / "manifest.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("first_open", ["reader", "writer"])
def test_an_older_index_is_migrated_in_place(tmp_path, docs, first_open):
    idx = tmp_path / "idx"
    index_paths(idx, [docs], embedder=HashEmbedder())
    before = sorted((h.id, h.text) for h in open_store(idx).iter_chunks())
    _downgrade_to_schema_1(idx)
    with pytest.raises(RuntimeError, match="schema version 1"):
        mf.read(idx)
    if first_open == "reader":
        store = open_store(idx)
        assert store.stats()["dense_coverage"] == 1.0
    emb = HashEmbedder()
    rep = index_paths(idx, [docs], embedder=emb)
    assert rep.unchanged == 2 and emb.embedded == 0, "nothing re-embedded by the migration"
    store = open_store(idx)
    assert mf.read(idx)["schema_version"] == mf.SCHEMA_VERSION
    assert sorted((h.id, h.text) for h in store.iter_chunks()) == before
    rows = store.con.execute("SELECT dense, text_hash FROM chunks").fetchall()
    assert all(d == 1 and h for d, h in rows)
    assert store.dense_search(np.asarray(emb.embed_queries(["témoin"])[0]), 2)
    (docs / "c.txt").write_text("Procès-verbal d'audition du témoin.", encoding="utf-8")  # same text as a.txt
    rep = index_paths(idx, [docs], embedder=emb)
    assert rep.added == 1 and emb.embedded == 0 and rep.chunks_reused == 1
