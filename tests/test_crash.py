"""Crash safety: kill -9 a real indexing subprocess mid-way, reopen, check consistency, resume."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pisteur.store import open_store

pytestmark = pytest.mark.slow  # real model, subprocesses, kill -9 loops

WORDS = ("audition témoin suspect véhicule rendez-vous parking gare nuit téléphone message appel "
         "enquête perquisition scellé couteau argent voiture adresse").split()


def _corpus(root: Path, files: int = 120) -> None:
    root.mkdir()
    for i in range(files):
        paras = [" ".join(WORDS[(i * 7 + j * 3 + k) % len(WORDS)] for k in range(40)) + f" dossier {i}-{j}."
                 for j in range(6)]
        (root / f"pv-{i:03d}.txt").write_text("\n\n".join(paras), encoding="utf-8")


def _consistent(idx: Path) -> int:
    """The index opens; every chunk with a vector has exactly one, no chunk is stored twice, every complete
    source's chunk count is right. Returns the number of chunks."""
    store = open_store(idx)
    chunks = list(store.iter_chunks())
    dense = [cid for (cid,) in store.con.execute("SELECT id FROM chunks WHERE dense=1")]
    assert len(store.vector_index) == len(dense), "every dense chunk has exactly one vector, no other has one"
    if dense:
        store.vectors(dense)  # raises if one is missing
    keys = store.con.execute("SELECT source_id, ord FROM chunks").fetchall()
    assert len(keys) == len(set(keys)), "no chunk stored twice"
    per_source: dict[str, int] = {}
    for h in chunks:
        per_source[h.source] = per_source.get(h.source, 0) + 1
    for path, st in store.sources().items():
        if st.status != "partial":
            assert st.chunks == per_source.get(path, 0), "no half-indexed file left as complete"
    return len(chunks)


@pytest.mark.parametrize("delay", [0.0, 0.7])
def test_kill_9_mid_index_then_resume(tmp_path: Path, delay: float) -> None:
    root = tmp_path / "docs"
    _corpus(root)
    idx = tmp_path / "idx"
    env = {**os.environ, "PISTEUR_INDEX": str(idx), "PISTEUR_COMMIT_CHUNKS": "40"}
    cmd = [sys.executable, "-m", "pisteur.cli", "index", str(root), "--model", "use-m3", "--quiet",
           "--chunk-size", "64", "--chunk-overlap", "8"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    # wait for at least one commit beyond the manifest, then kill at a varying point
    while time.time() < deadline and proc.poll() is None:
        if (idx / "index.sqlite").exists():
            try:
                if open_store(idx).generation() >= 2:
                    break
            except Exception:
                pass
        time.sleep(0.05)
    time.sleep(delay)
    if proc.poll() is not None:
        pytest.fail(f"indexing finished before it could be killed: {proc.stderr.read().decode()[-500:]}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _consistent(idx)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    total = _consistent(idx)
    assert total > partial
    store = open_store(idx)
    assert len(store.sources()) == 120
    assert all(st.status == "ok" and st.chunks > 0 for st in store.sources().values())
    # a clean build of the same corpus yields the same chunks
    clean = subprocess.run([*cmd, "--index", str(tmp_path / "clean")], env=env, capture_output=True, text=True,
                           timeout=600)
    assert clean.returncode == 0
    a = sorted(h.text for h in store.iter_chunks())
    b = sorted(h.text for h in open_store(tmp_path / "clean").iter_chunks())
    assert a == b


def test_second_writer_is_refused_by_the_cli(tmp_path: Path) -> None:
    from pisteur.store.lock import WriterLock

    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("bonjour", encoding="utf-8")
    idx = tmp_path / "idx"
    with WriterLock(idx):
        r = subprocess.run([sys.executable, "-m", "pisteur.cli", "index", str(root), "--index", str(idx),
                            "--model", "use-m3", "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "another pisteur process" in r.stderr


def _long_session(path: Path, turns: int) -> None:
    recs = []
    for i in range(turns):
        ts = f"2025-03-{1 + i // 1440:02d}T{(i // 60) % 24:02d}:{i % 60:02d}:00.000Z"
        words = " ".join(WORDS[(i * 5 + k) % len(WORDS)] for k in range(12))
        recs.append({"type": "user", "uuid": f"q{i}", "sessionId": "long", "timestamp": ts,
                     "message": {"role": "user", "content": f"question {i} : {words}"}})
        recs.append({"type": "assistant", "uuid": f"a{i}", "parentUuid": f"q{i}", "sessionId": "long",
                     "timestamp": ts, "message": {"role": "assistant", "content": [
                         {"type": "text", "text": f"réponse {i} : {words}"},
                         {"type": "tool_use", "id": f"t{i}", "name": "Read", "input": {"file_path": f"/pv/{i}.txt"}}]}})
        recs.append({"type": "user", "uuid": f"r{i}", "parentUuid": f"a{i}", "sessionId": "long", "timestamp": ts,
                     "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}",
                                                              "content": f"contenu du scellé {i} : {words}"}]}})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")


def _committed(idx: Path) -> tuple[int, int]:
    """(chunks, chunks with a vector) as committed, read through a plain SQLite connection."""
    try:
        con = sqlite3.connect(f"file:{idx / 'index.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT COUNT(*), COALESCE(SUM(dense = 1), 0) FROM chunks").fetchone()
        finally:
            con.close()
        return int(row[0]), int(row[1])
    except sqlite3.Error:
        return 0, 0


def test_random_kill_9_during_a_1000_chunk_session(tmp_path: Path) -> None:
    """kill -9 at random moments (read phase and dense phase): the index always opens, nothing committed
    is lost (so at most the batch in flight), no duplicates, and the resumed run equals a clean build."""
    root = tmp_path / "sessions"
    root.mkdir()
    _long_session(root / "long.jsonl", 510)  # two chunks a turn
    idx = tmp_path / "idx"
    env = {**os.environ, "PISTEUR_COMMIT_CHUNKS": "50"}
    cmd = [sys.executable, "-m", "pisteur.cli", "index", str(root), "--model", "use-m3", "--quiet",
           "--chunk-size", "64", "--chunk-overlap", "8"]
    rng = random.Random(int(os.environ.get("PISTEUR_CRASH_SEED", "9")))
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen([*cmd, "--index", str(idx)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        deadline = time.time() + rng.uniform(0.5, 4.0)  # the whole run takes seconds on a quiet machine
        seen = (0, 0)
        while time.time() < deadline and proc.poll() is None:
            seen = max(seen, _committed(idx))
            time.sleep(0.03)
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read().decode()[-1500:]
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        after = _committed(idx)
        assert after[0] >= seen[0] and after[1] >= seen[1], "a committed batch was lost"
        _consistent(idx)
    assert kills >= 1, "the run finished before any kill: the session is too small for this machine"
    done = subprocess.run([*cmd, "--index", str(idx)], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    total = _consistent(idx)
    assert total >= 1000
    clean = subprocess.run([*cmd, "--index", str(tmp_path / "clean")], env=env, capture_output=True, text=True,
                           timeout=900)
    assert clean.returncode == 0, clean.stderr[-2000:]
    a, b = open_store(idx), open_store(tmp_path / "clean")
    rows = "SELECT ord, kind, text, dense FROM chunks ORDER BY ord"
    assert a.con.execute(rows).fetchall() == b.con.execute(rows).fetchall()
    ids_a = [i for (i,) in a.con.execute("SELECT id FROM chunks ORDER BY ord")]
    ids_b = [i for (i,) in b.con.execute("SELECT id FROM chunks ORDER BY ord")]
    assert abs(a.vectors(ids_a) - b.vectors(ids_b)).max() < 1e-5, "same vectors as a clean build"
