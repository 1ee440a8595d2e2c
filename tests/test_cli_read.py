"""`pisteur read ID`: a hit in context from the terminal, paginated, --json; mistakes are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import build_index
from test_context import _session
from typer.testing import CliRunner

from pisteur.chunk import ChunkerConfig
from pisteur.cli import app
from pisteur.store import open_store

runner = CliRunner()


@pytest.fixture
def idx(tmp_path: Path) -> Path:
    return build_index(tmp_path, {"projects/-home-u-proj/s1.jsonl": _session()},
                       chunker=ChunkerConfig(size=32, overlap=4))


def _output_id(idx: Path) -> int:
    s = open_store(idx)
    try:
        outs = sorted((h for h in s.iter_chunks() if h.kind == "tool_result"), key=lambda h: h.meta["ord"])
        return outs[len(outs) // 2].id
    finally:
        s.close()


def test_read_a_tool_output_json(idx: Path) -> None:
    hid = _output_id(idx)
    r = runner.invoke(app, ["read", str(hid), "--index", str(idx), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["tool_call"] == "[Bash] redis-cli info keyspace"
    assert out["title"].startswith("Premier sujet")
    kinds = [p["kind"] for p in out["passages"]]
    assert "tool_result" in kinds and kinds[0] == "exchange" and kinds[-1] == "exchange"
    assert [p["is_hit"] for p in out["passages"]].count(True) == 1
    assert out["page"] == 1 and out["pages"] == 1


def test_read_paginates_and_points_to_the_next_page(idx: Path) -> None:
    hid = _output_id(idx)
    first = runner.invoke(app, ["read", str(hid), "--index", str(idx), "--page-chars", "300"])
    assert first.exit_code == 0, first.output
    assert f"pisteur read {hid} --page 2" in first.output and "page 1/" in first.output
    pages = json.loads(runner.invoke(app, ["read", str(hid), "--index", str(idx), "--page-chars", "300",
                                           "--json"]).stdout)["pages"]
    last = runner.invoke(app, ["read", str(hid), "--index", str(idx), "--page-chars", "300", "--page", str(pages)])
    assert last.exit_code == 0 and "next:" not in last.output
    assert "call: [Bash] redis-cli info keyspace" in " ".join(
        runner.invoke(app, ["read", str(hid), "--index", str(idx), "--before", "0", "--after", "0"]).output.split())


@pytest.mark.parametrize(("args", "code", "expected"), [
    (["999999"], 1, "no chunk with id 999999"),
    (["1", "--page", "0"], 2, "--page 0"),
    (["1", "--page", "99"], 2, "--page 99: this context has 1 page(s)"),
    (["1", "--before", "-1"], 2, "--before -1"),
])
def test_read_mistakes(idx: Path, args: list[str], code: int, expected: str) -> None:
    r = runner.invoke(app, ["read", *args, "--index", str(idx)])
    assert r.exit_code == code, r.output
    assert expected in r.output and "Traceback" not in r.output


def test_read_without_index(tmp_path: Path) -> None:
    r = runner.invoke(app, ["read", "1", "--index", str(tmp_path / "none")])
    assert r.exit_code == 1 and "no index" in r.output
