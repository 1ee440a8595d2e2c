"""Lexical first, dense after: searchable before any vector, dense pass order, content-hash reuse,
commits inside a long file and resume after a kill."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from helpers import HashEmbedder

from pisteur.index import read_phase
from pisteur.indexer import index_paths
from pisteur.retrieve.analysis import analyze_query
from pisteur.retrieve.dedupe import collapse_identical
from pisteur.store import open_store
from pisteur.store.local_writer import StoreWriter
from pisteur.types import Hit


def _rec(uid: str, role: str, content: object, session: str, ts: str, parent: str | None = None) -> dict:
    return {"type": role, "uuid": uid, "parentUuid": parent, "sessionId": session, "cwd": "/home/dev/projet",
            "timestamp": ts, "isSidechain": False, "message": {"role": role, "content": content}}


def write_session(path: Path, session: str, turns: int, day: str = "2025-06-01", tool_output: str | None = None,
                  thinking: bool = True, start: int = 0) -> None:
    """``turns`` exchanges, each with a thinking block, a tool call and its output."""
    recs = []
    for i in range(start, start + turns):
        ts = f"{day}T10:{i // 60:02d}:{i % 60:02d}.000Z"
        recs.append(_rec(f"{session}-q{i}", "user", f"question {i} sur la migration {session} numéro {i}", session, ts))
        blocks: list[dict] = [{"type": "text", "text": f"réponse {i} : la base {session} est migrée ({i})"}]
        if thinking:
            blocks.insert(0, {"type": "thinking", "thinking": f"je réfléchis à l'étape {i} de {session}"})
        blocks.append({"type": "tool_use", "id": f"{session}-t{i}", "name": "Bash", "input": {"command": "ls"}})
        recs.append(_rec(f"{session}-a{i}", "assistant", blocks, session, ts, f"{session}-q{i}"))
        out = tool_output if tool_output is not None else f"sortie {i} de ls pour {session}: fichier_{i}.py"
        recs.append(_rec(f"{session}-r{i}", "user", [{"type": "tool_result", "tool_use_id": f"{session}-t{i}",
                                                      "content": out}], session, ts, f"{session}-a{i}"))
    with open(path, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)


class RecordingEmbedder(HashEmbedder):
    def __init__(self, *a: object, **k: object) -> None:
        super().__init__(*a, **k)
        self.texts: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return super().embed_documents(texts)


@pytest.fixture
def sessions(tmp_path: Path) -> Path:
    root = tmp_path / "projects" / "p"
    root.mkdir(parents=True)
    write_session(root / "old.jsonl", "old", 3, day="2025-01-01")
    write_session(root / "new.jsonl", "new", 3, day="2025-06-01")
    return root.parent


def _dense_state(idx: Path) -> dict[int, int]:
    store = open_store(idx)
    return dict(store.con.execute("SELECT id, dense FROM chunks").fetchall())


def test_lexical_only_is_searchable_then_next_run_adds_vectors(tmp_path, sessions):
    idx = tmp_path / "idx"
    emb = RecordingEmbedder()
    rep = index_paths(idx, [sessions], embedder=emb, lexical_only=True)
    assert emb.texts == [] and rep.chunks_stored > 0
    assert rep.dense_pending == rep.chunks_stored and rep.dense_coverage == 0.0
    store = open_store(idx)
    assert store.lexical_search(analyze_query("migrée"), 5), "searchable by words before any vector"
    assert len(store.vector_index) == 0 and store.stats()["dense_coverage"] == 0.0
    again = index_paths(idx, [sessions], embedder=emb)
    assert again.unchanged == 2 and again.chunks_stored == 0
    assert again.dense_pending == 0 and again.dense_coverage == 1.0
    store = open_store(idx)
    assert len(store.vector_index) == store.stats()["chunks"]
    assert set(_dense_state(idx).values()) == {1}


def test_dense_pass_order_turns_first_tool_outputs_last_newest_first(tmp_path, sessions):
    emb = RecordingEmbedder()
    index_paths(tmp_path / "idx", [sessions], embedder=emb)
    kinds = []
    store = open_store(tmp_path / "idx")
    by_text = {h.text: h for h in store.iter_chunks()}
    for t in emb.texts:
        kinds.append(by_text[t].kind)
    rank = {"exchange": 0, "thinking": 1, "tool_result": 2}
    assert [rank[k] for k in kinds] == sorted(rank[k] for k in kinds)
    exchanges = [by_text[t] for t in emb.texts if by_text[t].kind == "exchange"]
    assert exchanges[0].meta["session_id"] == "new" and exchanges[-1].meta["session_id"] == "old"


def test_identical_tool_outputs_are_embedded_once_and_collapsed(tmp_path):
    root = tmp_path / "s"
    root.mkdir()
    same = "contenu identique du fichier tests/test_app.py lu dans plusieurs sessions " * 3
    for name in ("a", "b", "c"):
        write_session(root / f"{name}.jsonl", name, 1, tool_output=same, thinking=False)
    emb = RecordingEmbedder()
    rep = index_paths(tmp_path / "idx", [root], embedder=emb)
    assert sum(1 for t in emb.texts if "contenu identique" in t) == 1
    store = open_store(tmp_path / "idx")
    ids = [h.id for h in store.iter_chunks() if "contenu identique" in h.text]
    assert len(ids) == 3 and rep.dense_pending == 0
    vecs = store.vectors(ids)
    assert np.allclose(vecs[0], vecs[1]) and np.allclose(vecs[0], vecs[2])
    hits = collapse_identical(store.get(ids))
    assert len(hits) == 1 and len(hits[0].meta["also_in"]) == 2 and hits[0].explain["collapsed"] == 2


def test_collapse_keeps_order_and_distinct_texts():
    hits = [Hit(id=i, score=1.0, kind="tool_result", source=f"/s{i}", text=t, meta={})
            for i, t in enumerate(["a", "b", "a", "c", "b"])]
    out = collapse_identical(hits)
    assert [h.id for h in out] == [0, 1, 3]
    turns = [Hit(id=i, score=1.0, kind="exchange", source=f"/s{i}", text="même question", meta={}) for i in (1, 2)]
    assert len(collapse_identical(turns)) == 2, "the same question in two sessions stays two hits"


def test_changed_file_reembeds_only_changed_chunks(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    paras = [f"Paragraphe {i} du procès-verbal : le témoin numéro {i} décrit la scène en détail." for i in range(12)]
    (root / "pv.txt").write_text("\n\n".join(paras), encoding="utf-8")
    from pisteur.chunk import ChunkerConfig

    kw = {"chunker": ChunkerConfig(size=32, overlap=0)}
    first = RecordingEmbedder()
    index_paths(tmp_path / "idx", [root], embedder=first, **kw)
    assert len(first.texts) >= 6
    paras[-1] = "Paragraphe final réécrit : le suspect a quitté les lieux en voiture."
    (root / "pv.txt").write_text("\n\n".join(paras), encoding="utf-8")
    emb = RecordingEmbedder()
    rep = index_paths(tmp_path / "idx", [root], embedder=emb, **kw)
    assert rep.updated == 1 and rep.chunks_reused >= len(first.texts) - 2
    assert 1 <= len(emb.texts) <= 2 and any("réécrit" in t for t in emb.texts)
    assert open_store(tmp_path / "idx").stats()["dense_coverage"] == 1.0


def test_appended_session_embeds_only_what_is_new(tmp_path, sessions):
    idx = tmp_path / "idx"
    index_paths(idx, [sessions], embedder=HashEmbedder())
    write_session(sessions / "p" / "new.jsonl", "new", 1, start=3)
    emb = RecordingEmbedder()
    rep = index_paths(idx, [sessions], embedder=emb)
    assert rep.appended == 1
    assert emb.texts and all("3" in t or "étape 3" in t for t in emb.texts)
    assert len(emb.texts) <= 4  # the grown exchange, the new one, its thinking and tool output


class Killed(BaseException):
    """Stands for kill -9 in-process: nothing after it runs (not even the writer's commit)."""


def test_long_file_commits_inside_and_a_killed_run_resumes_without_duplicates(tmp_path, monkeypatch):
    root = tmp_path / "s"
    root.mkdir()
    write_session(root / "long.jsonl", "long", 40)
    monkeypatch.setattr(read_phase, "COMMIT_CHUNKS", 10)
    calls = {"n": 0}
    real_add = StoreWriter.add_chunks

    def add_then_die(self, src, chunks, vectors=None):  # dies on the 4th batch of the file
        calls["n"] += 1
        if calls["n"] == 4:
            raise Killed()
        return real_add(self, src, chunks, vectors)

    monkeypatch.setattr(StoreWriter, "add_chunks", add_then_die)
    idx = tmp_path / "idx"
    with pytest.raises(Killed):
        index_paths(idx, [root], embedder=HashEmbedder())
    store = open_store(idx)
    st = store.sources()[str(root / "long.jsonl")]
    assert st.status == "partial"
    assert store.stats()["chunks"] == 30, "three committed batches survive, the fourth is lost"
    monkeypatch.setattr(StoreWriter, "add_chunks", real_add)
    rep = index_paths(idx, [root], embedder=HashEmbedder())
    assert rep.resumed == 1
    index_paths(tmp_path / "clean", [root], embedder=HashEmbedder())
    a, b = open_store(idx), open_store(tmp_path / "clean")
    rows = "SELECT ord, kind, text FROM chunks ORDER BY ord"
    assert a.con.execute(rows).fetchall() == b.con.execute(rows).fetchall()
    assert a.sources()[str(root / "long.jsonl")].status == "ok"
    assert len(a.vector_index) == a.stats()["chunks"]


def test_progress_has_real_totals_and_no_empty_bars_on_an_unchanged_run(tmp_path, sessions):
    from pisteur.cli.progress import IndexProgress

    events: list[tuple[str, dict]] = []
    prog = IndexProgress(enabled=True)
    with prog:
        def spy(event: str, **info: object) -> None:
            events.append((event, info))
            prog(event, **info)

        rep = index_paths(tmp_path / "idx", [sessions], embedder=HashEmbedder(), progress=spy)
        tasks = {t.description: t for t in prog._progress.tasks}
    size = sum(p.stat().st_size for p in sessions.rglob("*.jsonl"))
    assert tasks["searchable"].total == size and tasks["searchable"].completed == size
    assert tasks["dense"].total == rep.chunks_stored == tasks["dense"].completed
    names = [e for e, _ in events]
    assert names.index("searchable") < names.index("dense_start")
    prog2 = IndexProgress(enabled=True)
    with prog2:
        index_paths(tmp_path / "idx", [sessions], embedder=HashEmbedder(), progress=prog2)
        assert prog2._progress.tasks == []


def test_dry_run_counts_chunks_and_writes_nothing(tmp_path, sessions):
    from pisteur.index.dryrun import dry_run

    idx = tmp_path / "idx"
    est = dry_run(idx, [sessions], model="test-hash:x")
    assert not idx.exists()
    rep = index_paths(idx, [sessions], model="test-hash:x")
    assert est.files == 2 and est.chunks == rep.chunks_stored and est.distinct_texts <= est.chunks
    assert est.chunks_per_second and est.dense_seconds is not None and est.sample_chunks > 0
    again = dry_run(idx, [sessions])
    assert again.files == 0 and again.unchanged == 2 and again.chunks == 0


def test_search_says_how_much_dense_covers(tmp_path, sessions):
    from pisteur.retrieve.pipeline import search

    idx = tmp_path / "idx"
    emb = HashEmbedder()
    index_paths(idx, [sessions], embedder=emb, lexical_only=True)
    res = search(open_store(idx), emb, "migration de la base", k=5)
    assert res.hits and res.options["dense_coverage"] == 0.0
    assert all(h.explain["dense_coverage"] == 0.0 for h in res.hits)
    index_paths(idx, [sessions], embedder=emb)
    res = search(open_store(idx), emb, "migration de la base", k=5)
    assert res.options["dense_coverage"] == 1.0 and all("dense_coverage" not in h.explain for h in res.hits)


@pytest.mark.parametrize("precision", ["int8", "binary"])
def test_lexical_first_and_reuse_with_quantized_vectors(tmp_path, precision):
    from pisteur.store.vectors_quant import config_for

    root = tmp_path / "s"
    root.mkdir()
    same = "sortie identique de pytest : 12 passed, 0 failed, durée 3.2 s " * 2
    for name in ("a", "b"):
        write_session(root / f"{name}.jsonl", name, 2, tool_output=same)
    idx = tmp_path / "idx"
    cfg = config_for(precision, "flat")
    index_paths(idx, [root], embedder=HashEmbedder(), vectors=cfg, lexical_only=True)
    emb = RecordingEmbedder()
    rep = index_paths(idx, [root], embedder=emb, vectors=cfg)
    assert rep.dense_pending == 0 and sum(1 for t in emb.texts if "sortie identique" in t) == 1
    store = open_store(idx)
    assert len(store.vector_index) == store.stats()["chunks"]
    q = emb.embed_queries(["réponse migrée"])[0]
    assert store.dense_search(np.asarray(q), 3)


def test_live_indexer_finishes_the_dense_pass_of_an_unchanged_corpus(tmp_path, sessions):
    from pisteur.serve.live import LiveIndexer

    idx = tmp_path / "idx"
    index_paths(idx, [sessions], model="test-hash:x", lexical_only=True)
    live = LiveIndexer(idx, [sessions], index_options={"dense_seconds": 0.0})
    assert live.run_once()
    assert live.state()["dense_pending"] > 0, "a zero budget leaves the vectors for the next pass"
    live = LiveIndexer(idx, [sessions])
    assert live.run_once()
    assert live.state()["dense_pending"] == 0
    assert open_store(idx).stats()["dense_coverage"] == 1.0
