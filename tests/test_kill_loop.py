"""The checks of the kill -9 loop (bench/kill_loop.py): each must catch the damage it names, and pass a sound index."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

from _kill_check import committed_sources, diff, lost, problems, signature  # noqa: E402


def test_lost_names_committed_sources_gone_or_shrunk_but_not_those_the_run_changes() -> None:
    before = {"/c/a.txt": ("ok", 3), "/c/b.txt": ("ok", 2), "/c/c.txt": ("partial", 1), "/c/d.txt": ("ok", 4)}
    after = {"/c/a.txt": ("ok", 3), "/c/b.txt": ("ok", 1), "/c/c.txt": ("ok", 5)}
    out = lost(before, after, changing={"/c/d.txt"})
    assert len(out) == 1 and out[0].startswith("/c/b.txt")
    assert lost(before, {**after, "/c/b.txt": ("partial", 2)}, {"/c/d.txt"})[0].startswith("/c/b.txt")
    assert lost(before, {}, set()) and not lost(before, before, set())


def test_diff_names_missing_sources_other_texts_and_missing_vectors() -> None:
    clean = ({"a.txt": [(0, "document", "un"), (1, "document", "deux")], "b.txt": [(0, "document", "x")]}, 3, 3)
    assert diff(clean, clean) == []
    assert "missing ['b.txt']" in diff(({"a.txt": clean[0]["a.txt"]}, 2, 2), clean)[0]
    other = ({"a.txt": [(0, "document", "un"), (1, "document", "trois")], "b.txt": clean[0]["b.txt"]}, 3, 3)
    assert diff(other, clean)[0].startswith("a.txt")
    assert diff((clean[0], 3, 2), clean) == ["2 vectors for 3 chunks"]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill")
    (root / "docs").mkdir()
    for i in range(3):
        (root / "docs" / f"pv-{i}.txt").write_text(f"Audition du témoin {i}.\n\nLe véhicule était garé à la gare.",
                                                   encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "pisteur.cli", "index", str(root / "docs"), "--index",
                        str(root / "idx"), "--model", "use-m3", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    return root / "idx"


def _damaged(index: Path, tmp_path: Path, sql: str) -> Path:
    import shutil

    copy = tmp_path / "damaged"
    shutil.copytree(index, copy)
    con = sqlite3.connect(copy / "index.sqlite")
    con.executescript(sql)
    con.close()
    return copy


@pytest.mark.slow
def test_a_sound_index_passes_and_equals_itself(index: Path) -> None:
    assert problems(index) == ([], [])
    assert len(committed_sources(index)) == 3
    sig = signature(index, index.parent / "docs")
    assert set(sig[0]) == {"pv-0.txt", "pv-1.txt", "pv-2.txt"} and sig[1] == sig[2] > 0
    assert diff(sig, sig) == []


@pytest.mark.slow
def test_a_chunk_stored_twice_is_a_duplicate(index: Path, tmp_path: Path) -> None:
    copy = _damaged(index, tmp_path, "INSERT INTO chunks (source_id, ord, kind, text) "
                                     "SELECT source_id, ord, kind, text FROM chunks LIMIT 1;")
    corrupt, dups = problems(copy)
    assert len(dups) == 1 and "stored 2 times" in dups[0]
    assert any("lexical rows" in c for c in corrupt)  # the extra row has no lexical entry either


@pytest.mark.slow
def test_a_chunk_marked_dense_without_a_vector_is_corrupt(index: Path, tmp_path: Path) -> None:
    copy = _damaged(index, tmp_path, "UPDATE chunks SET dense = 1 WHERE dense != 1;"
                                     "INSERT INTO chunks (source_id, ord, kind, text, dense) "
                                     "SELECT source_id, 99, kind, text, 1 FROM chunks LIMIT 1;"
                                     "INSERT INTO chunks_fts (rowid, terms) SELECT MAX(id), 'x' FROM chunks;")
    corrupt, dups = problems(copy)
    assert dups == [] and any("vectors/" in c for c in corrupt)
    assert any("marked ok" in c for c in corrupt)  # the source's chunk count no longer matches its rows


@pytest.mark.slow
def test_an_unreadable_database_is_corrupt(index: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "garbage"
    shutil.copytree(index, copy)
    (copy / "index.sqlite").write_bytes(b"not a database" * 100)
    for extra in ("index.sqlite-wal", "index.sqlite-shm"):
        (copy / extra).unlink(missing_ok=True)
    corrupt, _ = problems(copy)
    assert corrupt and corrupt[0].startswith("index.sqlite:")


def test_an_index_killed_before_its_model_is_recorded_is_refused_by_search_in_one_line(tmp_path: Path) -> None:
    """The state a kill leaves between creating the database and recording the model: nothing committed, and
    `pisteur search` says what to do (the loop counts this apart from corruption)."""
    import os

    import kill_loop

    from pisteur.store.local import LocalStore

    LocalStore(tmp_path / "idx", readonly=False).close()
    assert committed_sources(tmp_path / "idx") == {}
    lay = kill_loop.Layout(tmp_path, tmp_path / "corpus", tmp_path / "idx", "use-m3", dict(os.environ))
    err = kill_loop.search_works(lay, lay.index)
    assert err is not None and kill_loop.EMPTY in err and "Traceback" not in err
