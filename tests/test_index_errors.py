"""One error boundary per source: whatever fails for one file skips that file (named, with a one-line
reason) and the run goes on; an embedder failure never skips files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from helpers import HashEmbedder

from pisteur import ingest
from pisteur.embed.base import EmbedderError
from pisteur.index import read_phase
from pisteur.indexer import index_paths
from pisteur.store import open_store
from pisteur.store.local_writer import StoreWriter


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    for name in ("ok1", "ok2", "read_value", "read_unicode", "read_memory", "chunk_fail", "store_fail"):
        (root / f"{name}.txt").write_text(f"Procès-verbal {name}: le témoin confirme le rendez-vous.",
                                          encoding="utf-8")
    return root


def test_every_kind_of_failure_skips_only_its_file(tmp_path, docs, monkeypatch):
    real_read, real_chunk, real_add = ingest.read, read_phase.chunk_segments, StoreWriter.add_chunks

    def read(path, reader, start_offset=0, **kw):  # a reader that escapes ingest's own guard
        name = Path(path).stem
        if name == "read_value":
            raise ValueError("bad value in record 3")
        if name == "read_unicode":
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        if name == "read_memory":
            raise MemoryError()
        return real_read(path, reader, start_offset, **kw)

    def chunk(segs, cfg, count):
        if any("chunk_fail" in s.meta.get("source", "") or "chunk_fail" in s.text for s in segs):
            raise RuntimeError("chunker bug")
        return real_chunk(segs, cfg, count)

    def add(self, src, chunks, vectors=None):
        if src.path.endswith("store_fail.txt"):
            raise OSError("disk said no")
        return real_add(self, src, chunks, vectors)

    monkeypatch.setattr(ingest, "read", read)
    monkeypatch.setattr(read_phase, "chunk_segments", chunk)
    monkeypatch.setattr(StoreWriter, "add_chunks", add)
    idx = tmp_path / "idx"
    rep = index_paths(idx, [docs], embedder=HashEmbedder())
    reasons = {Path(p).stem: r for p, r in rep.skipped}
    assert set(reasons) == {"read_value", "read_unicode", "read_memory", "chunk_fail", "store_fail"}
    assert reasons["read_value"] == "reading failed: ValueError: bad value in record 3"
    assert reasons["read_unicode"].startswith("reading failed: UnicodeDecodeError")
    assert reasons["read_memory"] == "reading failed: MemoryError"
    assert reasons["chunk_fail"] == "chunking failed: RuntimeError: chunker bug"
    assert reasons["store_fail"] == "storing failed: OSError: disk said no"
    assert all("\n" not in r for r in reasons.values())
    assert rep.added == 2
    store = open_store(idx)
    assert {Path(h.source).stem for h in store.iter_chunks()} == {"ok1", "ok2"}
    # the skips are remembered: status lists them after later runs too
    monkeypatch.undo()
    again = index_paths(idx, [docs], embedder=HashEmbedder())
    assert again.skipped == []
    skipped = {Path(p).stem for p, s in open_store(idx).sources().items() if s.status == "skipped"}
    assert skipped == set(reasons)


def test_lone_surrogate_and_non_utf8_name_do_not_stop_the_run(tmp_path):
    root = tmp_path / "s"
    root.mkdir()
    rec = {"type": "user", "uuid": "u1", "sessionId": "s", "timestamp": "2025-01-01T00:00:00Z",
           "message": {"role": "user", "content": "emoji coupé \ud83d dans la session"}}
    (root / "cut.jsonl").write_text(json.dumps(rec) + "\n", encoding="utf-8")  # json escapes it as \\ud83d
    (root / "bon.txt").write_text("un fichier correct", encoding="utf-8")
    latin1 = bytes(root) + b"/caf\xe9.txt"
    with open(latin1, "wb") as f:
        f.write(b"texte ancien")
    rep = index_paths(tmp_path / "idx", [root], embedder=HashEmbedder())
    texts = " ".join(h.text for h in open_store(tmp_path / "idx").iter_chunks())
    assert "emoji coupé" in texts and "un fichier correct" in texts
    assert rep.added >= 2
    assert all("caf" in p for p, _ in rep.skipped)  # at worst the odd name is skipped, named


class FailsOn(HashEmbedder):
    """Raises on any batch holding ``bad`` (a chunk the model cannot take), or always (``outage``)."""

    def __init__(self, bad: str = "", outage: bool = False) -> None:
        super().__init__()
        self.bad, self.outage = bad, outage

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if self.outage:
            raise EmbedderError("cannot reach the embedding server at http://127.0.0.1:9")
        if self.bad and any(self.bad in t for t in texts):
            raise ValueError("input too long")
        return super().embed_documents(texts)


def test_embedder_failure_on_one_batch_names_the_files_and_skips_none(tmp_path, docs):
    (docs / "poison.txt").write_text("texte POISON que le modèle refuse", encoding="utf-8")
    rep = index_paths(tmp_path / "idx", [docs], embedder=FailsOn(bad="POISON"))
    assert rep.skipped == []
    assert [p for p, _ in rep.warnings] == [str(docs / "poison.txt")]
    st = open_store(tmp_path / "idx").stats()
    assert st["chunks_dense_failed"] == 1 and st["chunks_dense_pending"] == 0
    assert st["chunks_dense"] == st["chunks"] - 1


def test_embedding_outage_leaves_chunks_pending_not_files_skipped(tmp_path, docs):
    idx = tmp_path / "idx"
    rep = index_paths(idx, [docs], embedder=FailsOn(outage=True))
    assert rep.skipped == [] and rep.added == 7
    assert rep.dense_pending == rep.chunks_stored > 0
    assert any("dense pass stopped" in m and "EmbedderError" in m for _, m in rep.warnings)
    assert open_store(idx).lexical_search(["temoin", "témoin"], 5)
    rep2 = index_paths(idx, [docs], embedder=HashEmbedder())  # the server is back
    assert rep2.unchanged == 7 and rep2.dense_pending == 0 and rep2.chunks_dense == rep.chunks_stored


def test_index_json_has_warnings_and_status_lists_skipped(tmp_path, docs):
    from typer.testing import CliRunner

    from pisteur.cli import app

    (docs / "junk.pdf").write_bytes(b"\x00\x01garbage" * 50)  # refused by its reader: stored as skipped
    idx = str(tmp_path / "idx")
    runner = CliRunner()
    r = runner.invoke(app, ["index", str(docs), "--index", idx, "--model", "test-hash:x", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert "warnings" in out and out["dense_pending"] == 0
    s = runner.invoke(app, ["status", "--index", idx, "--json"])
    st = json.loads(s.stdout)
    assert [Path(x["path"]).name for x in st["skipped"]] == ["junk.pdf"]
    assert st["dense_coverage"] == 1.0
