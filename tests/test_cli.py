"""The CLI end to end on a small corpus: index, status, search (--json), remove, --help everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pisteur.cli import app

runner = CliRunner()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "pv.txt").write_text("Procès-verbal : le suspect a donné rendez-vous à la victime près de la gare.",
                                 encoding="utf-8")
    (root / "note.md").write_text("# Note\n\nLa perquisition a permis de saisir un couteau.", encoding="utf-8")
    (root / "vide.txt").write_bytes(b"")
    return root


def _ok(args: list[str]):
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return r


def test_index_status_search_remove(tmp_path: Path, corpus: Path) -> None:
    idx = str(tmp_path / "idx")
    r = _ok(["index", str(corpus), "--index", idx, "--model", "test-hash:x", "--json"])
    rep = json.loads(r.stdout)
    assert rep["added"] == 2 and rep["skipped"][0]["reason"] == "empty file"
    st = json.loads(_ok(["status", "--index", idx, "--json"]).stdout)
    assert st["sources"] == 2 and st["chunks"] >= 2 and st["model"] == "test-hash:x"
    out = _ok(["search", "perquisition couteau", "--index", idx, "--json", "-k", "2",
               "--no-rerank", "--no-expand"]).stdout
    hits = [json.loads(line) for line in out.splitlines()]
    assert hits and {"id", "score", "kind", "source", "text"} <= set(hits[0])
    assert "couteau" in hits[0]["text"]
    human = _ok(["search", "perquisition", "--index", idx, "--no-rerank"]).stdout
    assert "note.md" in human
    _ok(["remove", str(corpus / "note.md"), "--index", idx])
    st = json.loads(_ok(["status", "--index", idx, "--json"]).stdout)
    assert st["sources"] == 1


def test_search_without_index_is_a_clear_error(tmp_path: Path) -> None:
    r = runner.invoke(app, ["search", "x", "--index", str(tmp_path / "nope")])
    assert r.exit_code == 1
    assert "no pisteur index" in r.output


def test_model_change_is_refused_with_rebuild_hint(tmp_path: Path, corpus: Path) -> None:
    idx = str(tmp_path / "idx")
    _ok(["index", str(corpus), "--index", idx, "--model", "test-hash:x", "--quiet"])
    r = runner.invoke(app, ["index", str(corpus), "--index", idx, "--model", "test-hash:y", "--quiet"])
    assert r.exit_code == 1 and "--rebuild" in r.output


@pytest.mark.parametrize("cmd", [[], ["index"], ["search"], ["status"], ["remove"]])
def test_help(cmd: list[str]) -> None:
    r = runner.invoke(app, [*cmd, "--help"])
    assert r.exit_code == 0 and "Usage" in r.output


def test_model_options_are_recorded_and_reused(tmp_path: Path, corpus: Path) -> None:
    idx = str(tmp_path / "idx")
    _ok(["index", str(corpus), "--index", idx, "--model", "test-hash:x", "--instruction", "Instruct: t\nQuery:{query}",
         "--query-prefix", "q: ", "--quiet"])
    st = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert st["model"]["options"] == {"instruction": "Instruct: t\nQuery:{query}", "query_prefix": "q: "}
    rep = json.loads(_ok(["index", str(corpus), "--index", idx, "--json"]).stdout)
    assert rep["unchanged"] == 2


def test_user_dictionary_from_the_command_line(tmp_path: Path, corpus: Path) -> None:
    idx = str(tmp_path / "idx")
    _ok(["index", str(corpus), "--index", idx, "--model", "test-hash:x", "--quiet"])
    d = tmp_path / "mine.toml"
    d.write_text('name = "enquete"\n[synonyms]\n"lame" = ["couteau"]\n', encoding="utf-8")
    plain = [json.loads(x) for x in _ok(["search", "lame", "--index", idx, "--json", "--mode", "lexical"])
             .stdout.splitlines()]
    assert not any("couteau" in h["text"] for h in plain)
    out = _ok(["search", "lame", "--index", idx, "--json", "--mode", "lexical", "--dict", str(d)]).stdout
    hits = [json.loads(x) for x in out.splitlines()]
    assert hits and "couteau" in hits[0]["text"]
    r = runner.invoke(app, ["search", "lame", "--index", idx, "--dict", str(tmp_path / "absent.toml")])
    assert r.exit_code == 1 and "does not exist" in " ".join(r.output.split())


def test_lexical_search_never_loads_the_model(tmp_path: Path, corpus: Path, monkeypatch) -> None:
    idx = str(tmp_path / "idx")
    _ok(["index", str(corpus), "--index", idx, "--model", "test-hash:x", "--quiet"])

    def boom(*a, **k):
        raise AssertionError("model loaded")

    monkeypatch.setattr("pisteur.embed.lazy.load_embedder", boom)
    out = _ok(["search", "perquisition", "--index", idx, "--json", "--mode", "lexical", "--no-rerank"]).stdout
    assert "couteau" in json.loads(out.splitlines()[0])["text"]
    r = runner.invoke(app, ["search", "perquisition", "--index", idx, "--mode", "dense"])
    assert r.exit_code != 0 and "model loaded" in str(r.exception)
