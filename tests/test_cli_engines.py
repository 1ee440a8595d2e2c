"""The same CLI over other vector layers and over Milvus Lite (--engine milvus --uri FILE)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pisteur.cli import app

runner = CliRunner()


def _docs(root: Path) -> Path:
    root.mkdir()
    (root / "a.txt").write_text("Le suspect a fixé un rendez-vous près de la gare.", encoding="utf-8")
    (root / "b.txt").write_text("La perquisition a permis la saisie d'un couteau.", encoding="utf-8")
    (root / "c.txt").write_text("Compte rendu de la réunion budgétaire annuelle.", encoding="utf-8")
    return root


def _ok(args: list[str]) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.stdout


@pytest.mark.parametrize("precision", ["int8", "binary"])
def test_quantised_index_from_the_cli(tmp_path: Path, precision: str) -> None:
    root = _docs(tmp_path / "docs")
    idx = str(tmp_path / "idx")
    _ok(["index", str(root), "--index", idx, "--model", "test-hash:x", "--precision", precision, "--quiet"])
    st = json.loads(_ok(["status", "--index", idx, "--json"]))
    assert st["vectors"]["precision"] == precision
    out = _ok(["search", "saisie couteau perquisition", "--index", idx, "--json", "--mode", "dense",
               "--no-rerank", "--no-expand"])
    assert "couteau" in json.loads(out.splitlines()[0])["text"]
    r = runner.invoke(app, ["index", str(root), "--index", idx, "--model", "test-hash:x", "--quiet"])
    assert r.exit_code == 0, "re-running without flags keeps the index's own settings"
    r = runner.invoke(app, ["index", str(root), "--index", idx, "--model", "test-hash:x", "--precision", "float16"])
    assert r.exit_code == 1 and "--rebuild" in r.output


@pytest.mark.milvus
def test_milvus_lite_engine_from_the_cli(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    root = _docs(tmp_path / "docs")
    uri = str(tmp_path / "milvus.db")
    common = ["--engine", "milvus", "--uri", uri]
    rep = json.loads(_ok(["index", str(root), *common, "--model", "test-hash:x", "--json"]))
    assert rep["added"] == 3
    out = _ok(["search", "perquisition couteau", *common, "--json", "--no-rerank", "--no-expand", "-k", "1"])
    hit = json.loads(out.splitlines()[0])
    assert hit["source"].endswith("b.txt")
    again = json.loads(_ok(["index", str(root), *common, "--json"]))
    assert again["unchanged"] == 3 and again["chunks_embedded"] == 0
