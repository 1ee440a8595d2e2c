"""Mistakes typed at the command line: exit code 2, one line naming the bad value and what is allowed,
never a traceback, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pisteur.cli import app

runner = CliRunner()


@pytest.mark.parametrize(("args", "expected"), [
    (["search", ""], "empty query"),
    (["search", "   "], "empty query"),
    (["search", "x", "-k", "0"], "-k 0"),
    (["search", "x", "-k", "-3"], "-k -3"),
    (["search", "x", "--since", "2025-13-45"], "'2025-13-45' is not a date"),
    (["search", "x", "--since", "demain"], "'demain' is not a date"),
    (["search", "x", "--until", "n'importe"], "--until"),
    (["search", "x", "--kind", "foo"], "exchange, summary, tool_result, thinking, document, message"),
    (["search", "x", "--since", "2026-02-01", "--until", "2026-01-01"], "the range is empty"),
    (["index", "DOCS", "--precision", "foo"], "float32, float16, int8, binary"),
    (["index", "DOCS", "--chunk-size", "0"], "--chunk-size 0"),
    (["index", "DOCS", "--chunk-size", "32", "--chunk-overlap", "40"], "smaller than the chunk size"),
])
def test_mistakes_are_one_line_errors(tmp_path: Path, args: list[str], expected: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("un texte", encoding="utf-8")
    idx = tmp_path / "idx"
    args = [str(docs) if a == "DOCS" else a for a in args] + ["--index", str(idx)]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output
    assert expected in " ".join(r.output.split())
    assert "Traceback" not in r.output
    assert not idx.exists()


def test_relative_dates_are_accepted(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Le suspect a donné rendez-vous près de la gare.", encoding="utf-8")
    idx = str(tmp_path / "idx")
    assert runner.invoke(app, ["index", str(docs), "--index", idx, "--model", "test-hash:x", "-q"]).exit_code == 0
    for since in ("hier", "2 weeks", "3 mois"):
        r = runner.invoke(app, ["search", "gare", "--since", since, "--index", idx, "--no-rerank", "--json"])
        assert r.exit_code == 0, r.output


def test_a_missing_extra_is_named_in_one_line() -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['fastapi'] = None; sys.argv = ['pisteur', 'serve', '--port', '8799']; "
            "from pisteur.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "pip install 'pisteur[serve]'" in lines[0]
