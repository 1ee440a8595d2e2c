"""What the terminal shows: readable --help everywhere, indented hits, timings only when asked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
from helpers import build_index
from typer.testing import CliRunner

from pisteur.cli import app

runner = CliRunner()


def _commands() -> list[list[str]]:
    out: list[list[str]] = [[]]
    root = typer.main.get_command(app)
    for name, cmd in getattr(root, "commands", {}).items():
        out.append([name])
        for sub in getattr(cmd, "commands", {}):
            out.append([name, sub])
    return out


@pytest.mark.parametrize("cmd", _commands(), ids=lambda c: " ".join(c) or "pisteur")
def test_help_shows_no_python_types(cmd: list[str]) -> None:
    r = runner.invoke(app, [*cmd, "--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert not re.search(r"<(bool|str|int|float|path|list\[[^\]]*\])>", r.output), r.output
    usage = next(ln for ln in r.output.splitlines() if "Usage:" in ln)
    assert "{" not in usage, usage


def test_help_metavars_are_conventional() -> None:
    out = runner.invoke(app, ["search", "--help"], terminal_width=200).output
    assert "Usage: pisteur search [OPTIONS] QUERY" in out
    assert re.search(r"-k\s+N\s", out) and re.search(r"--index\s+-i\s+PATH", out)
    out = runner.invoke(app, ["index", "--help"], terminal_width=200).output
    assert "[PATHS...]" in out


@pytest.fixture
def idx(tmp_path: Path) -> Path:
    words = " ".join(f"la perquisition numéro {i} a permis de saisir un couteau de cuisine" for i in range(8))
    return build_index(tmp_path, {"pv.txt": words})


def test_wrapped_hits_stay_indented_and_timings_need_explain(idx: Path) -> None:
    r = runner.invoke(app, ["search", "perquisition couteau", "--index", str(idx), "--no-rerank", "-k", "1"],
                      terminal_width=60)
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert lines[0].lstrip().startswith("1.")
    assert len(lines) > 3 and all(ln.startswith("    ") for ln in lines[1:]), r.output
    assert " ms" not in r.output
    explained = runner.invoke(app, ["search", "perquisition couteau", "--index", str(idx), "--no-rerank",
                                    "--explain"], terminal_width=200).output
    assert re.search(r"\d ms", explained)
