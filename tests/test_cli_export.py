"""`pisteur export` never writes into a folder of other files, and pisteur's own folders are recognisable so
that indexing a case folder that holds one never reads it back as documents."""

from __future__ import annotations

from pathlib import Path

from helpers import build_index
from typer.testing import CliRunner

from pisteur.cli import app
from pisteur.markers import MARKER, is_pisteur_dir

runner = CliRunner()


def test_export_refuses_a_case_folder_and_accepts_new_empty_or_previous_exports(tmp_path: Path) -> None:
    idx = build_index(tmp_path, {"pv.txt": "Le témoin a vu une voiture grise."})
    case = tmp_path / "affaire"
    case.mkdir()
    (case / "pv2.txt").write_text("Procès-verbal d'audition.", encoding="utf-8")
    r = runner.invoke(app, ["export", str(case), "--index", str(idx)])
    assert r.exit_code == 2, r.output
    assert "not empty" in r.output and str(case.name) in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in case.iterdir()) == ["pv2.txt"]
    r = runner.invoke(app, ["export", str(idx), "--index", str(idx)])
    assert r.exit_code == 2 and "not empty" in r.output  # never into the index itself
    out = tmp_path / "export"
    assert runner.invoke(app, ["export", str(out), "--index", str(idx)]).exit_code == 0
    assert (out / MARKER).is_file() and is_pisteur_dir(out)
    again = runner.invoke(app, ["export", str(out), "--index", str(idx)])  # re-exporting over an export
    assert again.exit_code == 0, again.output
    empty = tmp_path / "vide"
    empty.mkdir()
    assert runner.invoke(app, ["export", str(empty), "--index", str(idx)]).exit_code == 0


def test_pisteur_dirs_are_recognised_with_or_without_the_marker(tmp_path: Path) -> None:
    idx = build_index(tmp_path, {"pv.txt": "Le témoin a vu une voiture grise."})
    assert is_pisteur_dir(idx)
    old_export = tmp_path / "old"
    old_export.mkdir()
    (old_export / "export.json").write_text("{}", encoding="utf-8")
    (old_export / "chunks.jsonl").write_text("", encoding="utf-8")
    assert is_pisteur_dir(old_export)
    assert not is_pisteur_dir(tmp_path / "src")


def test_export_without_index_is_one_line(tmp_path: Path) -> None:
    r = runner.invoke(app, ["export", str(tmp_path / "out"), "--index", str(tmp_path / "none")])
    assert r.exit_code == 1 and "Traceback" not in r.output and r.output.startswith("error:")
