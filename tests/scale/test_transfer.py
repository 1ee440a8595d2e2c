"""Export / import / migrate round trips (local -> export -> local, local -> Milvus Lite), and the local
engine end to end on a quantised vector layer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import HashEmbedder, build_index

from pisteur.indexer import index_paths
from pisteur.retrieve.analysis import analyze
from pisteur.store import open_store
from pisteur.store.base import Filters
from pisteur.store.transfer import export_index, import_export, migrate

TEXTS = {
    "pv.txt": "Procès-verbal d'audition. Le mis en cause a été placé en garde à vue.\n\nIl conteste les faits.",
    "notes.md": "# Notes\n\nLes universités françaises accueillent des élèves.\n\nRendez-vous à la gare demain.",
    "sms.txt": "rdv demain 18h gare\n\nnique la police",
}


def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in TEXTS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def snapshot(store) -> dict[str, tuple]:
    out = {}
    for h in store.iter_chunks():
        out[(h.source, h.meta.get("ord"))] = (h.kind, h.text)
    return out


@pytest.mark.parametrize("vectors", [None, {"index": "binary", "precision": "binary"}])
def test_export_import_round_trip(tmp_path: Path, vectors: dict | None) -> None:
    emb = HashEmbedder(dims=64)
    src = build_index(tmp_path, [corpus(tmp_path)], embedder=emb, vectors=vectors)
    info = export_index(src, tmp_path / "exp")
    assert info["chunks"] > 0
    lines = (tmp_path / "exp" / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == info["chunks"] == np.load(tmp_path / "exp" / "vectors.npy").shape[0]
    assert json.loads(lines[0])["terms"]  # analysed terms travel with the text
    dst = tmp_path / "copy"
    n = import_export(tmp_path / "exp", index_dir=dst, vectors={"index": "flat", "precision": "int8"})
    assert n == info["chunks"]
    a, b = open_store(src), open_store(dst)
    assert snapshot(a) == snapshot(b)
    assert set(a.sources()) == set(b.sources())
    assert b.manifest()["vectors"]["precision"] == "int8"
    assert b.manifest()["model"] == a.manifest()["model"]
    q = emb.embed_queries(["garde à vue"])[0]
    top_a = a.get([a.dense_search(q, 1)[0][0]])[0].text
    top_b = b.get([b.dense_search(q, 1)[0][0]])[0].text
    assert top_a == top_b and "garde à vue" in top_a
    assert b.lexical_search(analyze("université"), 3) and len(b.dense_search(q, 5, Filters(source="sms"))) >= 1
    with pytest.raises(FileExistsError):
        import_export(tmp_path / "exp", index_dir=dst)
    # the imported index keeps updating incrementally: nothing to redo for unchanged files
    rep = index_paths(dst, [tmp_path / "docs"], embedder=emb)
    assert rep.unchanged == len(TEXTS)


def test_migrate_local_to_local_changes_precision(tmp_path: Path) -> None:
    emb = HashEmbedder(dims=64)
    src = build_index(tmp_path, [corpus(tmp_path)], embedder=emb)
    n = migrate(src, to="local", dest=tmp_path / "bin", vectors={"index": "binary", "precision": "binary"})
    dst = open_store(tmp_path / "bin")
    assert n == dst.stats()["chunks"] and dst.manifest()["vectors"]["precision"] == "binary"
    assert list((tmp_path / "bin" / "vectors").glob("q-*.bits.npy"))


@pytest.mark.milvus
def test_migrate_to_milvus_and_back(tmp_path: Path) -> None:
    pytest.importorskip("milvus_lite")
    from pisteur.store.milvus import MilvusStore
    from pisteur.store.transfer import iter_milvus, write_export

    emb = HashEmbedder(dims=64)
    src = build_index(tmp_path, [corpus(tmp_path)], embedder=emb)
    uri = str(tmp_path / "m.db")
    n = migrate(src, to="milvus", uri=uri)
    mv = MilvusStore(uri, readonly=True)
    local = open_store(src)
    assert mv.stats()["chunks"] == n == local.stats()["chunks"]
    q = emb.embed_queries(["garde à vue"])[0]
    assert [i for i, _ in mv.dense_search(q, 3)] == [i for i, _ in local.dense_search(q, 3)]  # ids kept
    terms = analyze("université")
    assert set(dict(mv.lexical_search(terms, 3))) == set(dict(local.lexical_search(terms, 3)))
    assert set(mv.sources()) == set(local.sources())
    info = write_export(iter_milvus(mv), tmp_path / "back", mv.manifest(), mv.sources())
    assert info["chunks"] == n
    mv.close()


def test_cli_export_import_migrate(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pisteur.cli import app

    src = build_index(tmp_path, [corpus(tmp_path)], embedder=HashEmbedder(dims=64))
    r = CliRunner().invoke(app, ["export", str(tmp_path / "exp"), "--index", str(src), "--json"])
    assert r.exit_code == 0, r.output
    n = json.loads(r.output)["chunks"]
    r = CliRunner().invoke(app, ["import", str(tmp_path / "exp"), "--index", str(tmp_path / "b"),
                                 "--precision", "int8", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["imported"] == n
    assert open_store(tmp_path / "b").manifest()["vectors"] == {"index": "auto", "precision": "int8"}
    r = CliRunner().invoke(app, ["import", str(tmp_path / "exp"), "--index", str(tmp_path / "b")])
    assert r.exit_code == 1 and "already holds an index" in r.output
    r = CliRunner().invoke(app, ["migrate", "--to", "local", "--index", str(src), "--dest", str(tmp_path / "c"),
                                 "--precision", "binary", "--ann", "binary"])
    assert r.exit_code == 0, r.output
    assert open_store(tmp_path / "c").stats()["chunks"] == n


def test_export_refuses_an_index_whose_vectors_are_not_finished(tmp_path: Path) -> None:
    from pisteur.store.transfer import ExportTargetError

    src = build_index(tmp_path, [corpus(tmp_path)], embedder=HashEmbedder(dims=64), lexical_only=True)
    with pytest.raises(ExportTargetError, match="have no vector yet: run `pisteur index`"):
        export_index(src, tmp_path / "exp")
    assert not (tmp_path / "exp" / "chunks.jsonl").exists()
    index_paths(src, [tmp_path / "docs"], embedder=HashEmbedder(dims=64))  # finishes the vectors
    assert export_index(src, tmp_path / "exp")["chunks"] > 0
