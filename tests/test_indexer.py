"""Incremental indexing end to end: new, unchanged, changed, grown, deleted files; model change refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import HashEmbedder

from pisteur.chunk import ChunkerConfig
from pisteur.embed.base import EmbedderError
from pisteur.indexer import index_paths, remove_paths
from pisteur.store import manifest as mf
from pisteur.store import open_store


def _line(i: int, typ: str, text: str, session: str = "sess-1", parent: str | None = None) -> str:
    rec = {
        "type": typ, "uuid": f"u{i}", "parentUuid": parent, "sessionId": session, "cwd": "/home/dev/projet",
        "gitBranch": "main", "timestamp": f"2025-06-01T10:{i:02d}:00.000Z", "isSidechain": False,
        "message": {"role": typ, "content": text if typ == "user" else [{"type": "text", "text": text}]},
    }
    return json.dumps(rec, ensure_ascii=False) + "\n"


def _session(path: Path, turns: list[tuple[str, str]], start: int = 0, mode: str = "w") -> None:
    with open(path, mode, encoding="utf-8") as f:
        for j, (q, a) in enumerate(turns):
            i = start + 2 * j
            f.write(_line(i, "user", q))
            f.write(_line(i + 1, "assistant", a, parent=f"u{i}"))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "proj").mkdir(parents=True)
    _session(root / "proj" / "sess-1.jsonl", [("corrige le bug de migration", "J'ai corrigé la migration alembic."),
                                               ("lance les tests", "Tous les tests passent.")])
    (root / "note.txt").write_text("Procès-verbal d'audition. Le suspect a fixé un rendez-vous.", encoding="utf-8")
    (root / "autre.md").write_text("# Synthèse\n\nLa garde à vue a été prolongée.", encoding="utf-8")
    return root


def _run(idx: Path, root: Path, emb: HashEmbedder | None = None, **kw):
    return index_paths(idx, [root], embedder=emb or HashEmbedder(), **kw)


def _texts(idx: Path) -> list[str]:
    return sorted(h.text for h in open_store(idx).iter_chunks())


def test_second_run_on_unchanged_corpus_embeds_nothing(tmp_path, corpus):
    idx = tmp_path / "idx"
    first = _run(idx, corpus)
    assert first.added == 3 and first.chunks_embedded >= 3
    emb = HashEmbedder()
    again = _run(idx, corpus, emb)
    assert (again.unchanged, again.added, again.updated, again.chunks_embedded) == (3, 0, 0, 0)
    assert emb.embedded == 0


def test_changed_file_is_reindexed_and_old_chunks_go(tmp_path, corpus):
    idx = tmp_path / "idx"
    _run(idx, corpus)
    (corpus / "note.txt").write_text("Nouveau procès-verbal : audition du témoin.", encoding="utf-8")
    rep = _run(idx, corpus)
    assert rep.updated == 1 and rep.unchanged == 2
    texts = " ".join(_texts(idx))
    assert "témoin" in texts and "rendez-vous" not in texts


def test_deleted_file_chunks_are_removed(tmp_path, corpus):
    idx = tmp_path / "idx"
    _run(idx, corpus)
    (corpus / "autre.md").unlink()
    rep = _run(idx, corpus)
    assert rep.deleted == 1
    assert "garde à vue" not in " ".join(_texts(idx))
    store = open_store(idx)
    assert len(store.vector_index) == store.stats()["chunks"]


def test_indexing_one_folder_does_not_delete_another(tmp_path, corpus):
    idx = tmp_path / "idx"
    _run(idx, corpus)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("autre dossier", encoding="utf-8")
    rep = _run(idx, other)
    assert rep.deleted == 0 and rep.added == 1
    assert open_store(idx).stats()["sources"] == 4


def test_grown_session_reads_only_new_lines(tmp_path, corpus):
    idx = tmp_path / "idx"
    _run(idx, corpus)
    before = {h.id: h.text for h in open_store(idx).iter_chunks()}
    sess = corpus / "proj" / "sess-1.jsonl"
    _session(sess, [("et la base de prod ?", "La base de production est migrée.")], start=10, mode="a")
    emb = HashEmbedder()
    rep = _run(idx, corpus, emb)
    assert rep.appended == 1 and rep.updated == 0
    after = {h.id: h.text for h in open_store(idx).iter_chunks()}
    assert any("production" in t for t in after.values())
    # only the last (possibly incomplete) exchange and the new one were embedded, not the whole session
    assert 1 <= emb.embedded <= 2
    kept = [i for i in before if i in after]
    assert kept, "chunks of earlier exchanges must survive an append"
    hits = [h for h in open_store(idx).iter_chunks() if "production" in h.text]
    assert hits[0].meta["session_id"] == "sess-1" and "u11" in hits[0].meta["uuids"]


def test_model_change_is_refused_and_rebuild_works(tmp_path, corpus):
    idx = tmp_path / "idx"
    _run(idx, corpus)
    with pytest.raises(mf.ManifestMismatch, match="model.spec"):
        index_paths(idx, [corpus], embedder=HashEmbedder("autre", dims=32))
    with pytest.raises(mf.ManifestMismatch, match="chunker"):
        _run(idx, corpus, chunker=ChunkerConfig(size=64, overlap=8))
    rep = index_paths(idx, [corpus], embedder=HashEmbedder("autre", dims=32), rebuild=True)
    assert rep.added == 3
    assert open_store(idx).manifest()["model"]["dims"] == 32


def test_tool_results_and_thinking_can_be_left_out(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    recs = [
        {"type": "user", "uuid": "a", "sessionId": "s", "timestamp": "2025-01-01T00:00:00Z",
         "message": {"role": "user", "content": "liste les fichiers"}},
        {"type": "assistant", "uuid": "b", "sessionId": "s", "timestamp": "2025-01-01T00:00:01Z",
         "message": {"role": "assistant", "content": [
             {"type": "thinking", "thinking": "je vais utiliser ls"},
             {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls -la"}}]}},
        {"type": "user", "uuid": "c", "sessionId": "s", "timestamp": "2025-01-01T00:00:02Z",
         "message": {"role": "user", "content": [
             {"type": "tool_result", "tool_use_id": "t1", "content": "README.md setup.py"}]}},
    ]
    (root / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    _run(tmp_path / "all", root)
    kinds_all = {h.kind for h in open_store(tmp_path / "all").iter_chunks()}
    assert {"exchange", "tool_result", "thinking"} <= kinds_all
    _run(tmp_path / "lean", root, include_tool_results=False, include_thinking=False)
    kinds = {h.kind for h in open_store(tmp_path / "lean").iter_chunks()}
    assert kinds == {"exchange"}


def test_bad_files_are_skipped_with_a_reason_and_others_indexed(tmp_path, corpus):
    (corpus / "vide.txt").write_bytes(b"")
    (corpus / "junk.pdf").write_bytes(b"\x00\x01garbage" * 50)
    (corpus / "proj" / "broken.jsonl").write_text('{"type": "user", "message": \n{not json}\n', encoding="utf-8")
    idx = tmp_path / "idx"
    rep = _run(idx, corpus)
    reasons = dict(rep.skipped)
    assert str(corpus / "vide.txt") in reasons and str(corpus / "junk.pdf") in reasons
    assert all(r for r in reasons.values())
    assert rep.added >= 3
    assert "rendez-vous" in " ".join(_texts(idx))


def test_remove_paths(tmp_path, corpus):
    idx = tmp_path / "idx"
    _run(idx, corpus)
    assert remove_paths(idx, [corpus / "proj"]) == 1
    assert all("migration" not in t for t in _texts(idx))


def test_unchanged_run_does_not_load_the_model(tmp_path, corpus, monkeypatch):
    idx = tmp_path / "idx"
    index_paths(idx, [corpus], model="test-hash:x")

    def boom(*a, **k):  # EmbedderError: a model that cannot load stops the run (no file is skipped for it)
        raise EmbedderError("model loaded for an unchanged corpus")

    monkeypatch.setattr("pisteur.indexer.load_embedder", boom)
    monkeypatch.setattr("pisteur.embed.lazy.load_embedder", boom)
    rep = index_paths(idx, [corpus])
    assert rep.unchanged == 3 and rep.chunks_embedded == 0
    (corpus / "nouveau.txt").write_text("un fichier de plus", encoding="utf-8")
    with pytest.raises(EmbedderError, match="model loaded"):
        index_paths(idx, [corpus])  # now the model is needed, and loaded lazily


def test_analyzer_change_reanalyses_terms_without_reembedding(tmp_path, corpus, monkeypatch):
    from pisteur.store.local import LocalStore

    idx = tmp_path / "idx"
    _run(idx, corpus)
    store = LocalStore(idx, readonly=False)
    with store.writer() as w:  # simulate an index written by an older analyser: stale terms, old version
        store.con.execute("UPDATE chunks_fts SET terms = 'zzz'")
        w.set_manifest({**store.manifest(), "analyzer_version": "old"})
    emb = HashEmbedder()
    rep = _run(idx, corpus, emb)
    assert rep.unchanged == 3 and emb.embedded == 0
    from pisteur.retrieve.analysis import ANALYZER_VERSION, analyze_query

    reader = open_store(idx)
    assert reader.manifest()["analyzer_version"] == ANALYZER_VERSION
    assert reader.lexical_search(analyze_query("garde à vue"), 5)
    assert reader.lexical_search(["zzz"], 5) == []
