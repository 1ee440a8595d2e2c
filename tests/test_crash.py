"""Crash safety: kill -9 a real indexing subprocess mid-way, reopen, check consistency, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pisteur.store import open_store

WORDS = ("audition témoin suspect véhicule rendez-vous parking gare nuit téléphone message appel "
         "enquête perquisition scellé couteau argent voiture adresse").split()


def _corpus(root: Path, files: int = 120) -> None:
    root.mkdir()
    for i in range(files):
        paras = [" ".join(WORDS[(i * 7 + j * 3 + k) % len(WORDS)] for k in range(40)) + f" dossier {i}-{j}."
                 for j in range(6)]
        (root / f"pv-{i:03d}.txt").write_text("\n\n".join(paras), encoding="utf-8")


def _consistent(idx: Path) -> int:
    store = open_store(idx)
    chunks = list(store.iter_chunks())
    assert len(store.vector_index) == len(chunks), "every committed chunk has exactly one vector"
    if chunks:
        store.vectors([h.id for h in chunks])  # raises if one is missing
    per_source = {}
    for h in chunks:
        per_source[h.source] = per_source.get(h.source, 0) + 1
    for path, st in store.sources().items():
        assert st.chunks == per_source.get(path, 0), "no half-indexed file"
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
