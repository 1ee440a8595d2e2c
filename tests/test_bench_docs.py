"""The benchmark tables in docs/BENCHMARKS.md and docs/bench/*.md are generated from bench/results/*.json by
bench/make_docs.py: a doc edited by hand, or a result file changed without regenerating the docs, fails here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import make_docs  # noqa: E402
from _common import BenchError, write_result  # noqa: E402


def test_docs_match_the_result_files() -> None:
    stale = make_docs.stale_docs(write=False)
    assert stale == [], f"run `python bench/make_docs.py`: stale {', '.join(str(p) for p in stale)}"


def test_every_result_file_is_versioned_and_says_where_it_comes_from() -> None:
    files = sorted((BENCH / "results").glob("*.json"))
    assert files
    for f in files:
        doc = json.loads(f.read_text(encoding="utf-8"))
        assert doc["schema"] == 1 and doc["name"] == f.stem, f
        assert doc["command"], f
        assert "measured" in doc or ("date" in doc and "machine" in doc and "load" in doc), f


def _tree(tmp_path: Path, doc: str) -> Path:
    (tmp_path / "docs" / "bench").mkdir(parents=True)
    (tmp_path / "docs" / "BENCHMARKS.md").write_text(doc, encoding="utf-8")
    return tmp_path


def test_a_block_is_rendered_from_its_result_and_a_hand_edit_is_stale(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result("demo", "python bench/demo.py", {"tables": {"t": {"columns": ["a", "b"], "rows": [[1, "x"]]}}},
                 measured="2026-01-02", machine_info="a laptop", load_avg="idle", out_dir=results)
    root = _tree(tmp_path, "intro\n<!-- bench:demo#t -->\nold\n<!-- /bench -->\nend\n")
    assert make_docs.stale_docs(root, results, write=True) == [root / "docs" / "BENCHMARKS.md"]
    text = (root / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "| a | b |\n|---|---|\n| 1 | x |\n" in text
    assert "Measured 2026-01-02" in text and "not re-measured" in text and text.endswith("<!-- /bench -->\nend\n")
    assert make_docs.stale_docs(root, results) == []
    (root / "docs" / "BENCHMARKS.md").write_text(text.replace("| 1 | x |", "| 2 | x |"), encoding="utf-8")
    assert make_docs.stale_docs(root, results) == [root / "docs" / "BENCHMARKS.md"]


def test_a_block_naming_a_missing_result_is_an_error(tmp_path: Path) -> None:
    root = _tree(tmp_path, "<!-- bench:nothing -->\n<!-- /bench -->\n")
    (tmp_path / "results").mkdir()
    with pytest.raises(BenchError, match="nothing.json"):
        make_docs.stale_docs(root, tmp_path / "results")


def test_a_fresh_run_records_date_machine_load_and_commit(tmp_path: Path) -> None:
    path = write_result("fresh", "python bench/fresh.py", {"x": 1}, out_dir=tmp_path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["date"].endswith("Z") and doc["machine"]["cores"] and isinstance(doc["load"], list)
    assert "commit" in doc and "measured" not in doc
    rendered = make_docs.provenance("fresh", doc)
    assert "python bench/fresh.py" in rendered and "not re-measured" not in rendered


def test_a_prefix_block_has_one_row_per_result(tmp_path: Path) -> None:
    results = tmp_path / "results"
    for size, chunks in (("1MB", 500), ("2MB", 1000)):
        write_result(f"scale_index-{size}", "python bench/scale_index.py C --size " + size,
                     {"corpus_bytes": 1_000_000, "model": "usem3", "chunks": chunks, "first_searchable_s": 3.0,
                      "full_dense_s": 9.0, "dense_from": "end of run", "chunks_per_s": 55.5,
                      "peak_rss_bytes": 300_000_000, "bytes_on_disk": 4_000_000, "search": {"p50_ms": 12.0}},
                     out_dir=results)
    root = _tree(tmp_path, "<!-- bench:scale_index-* -->\n<!-- /bench -->\n")
    make_docs.stale_docs(root, results, write=True)
    text = (root / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert "| `1MB` | 1.0 MB | usem3 | 500 | 3.0 | 9.0 (end of run) | 55.5 | 300.0 MB | 4.0 MB | 12.0 |" in text
    assert "| `2MB` |" in text and text.count("--size") == 2
