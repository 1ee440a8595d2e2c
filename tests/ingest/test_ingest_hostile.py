"""Hostile input: lone surrogates, file names that are not UTF-8, records of the wrong shape."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pisteur.chunk import ChunkerConfig, chunk_segments
from pisteur.ingest import discover, read
from pisteur.ingest.sanitize import fix_text, fix_value
from pisteur.types import SkipFile

SURROGATE_LINE = '{"type":"user","uuid":"u1","message":{"role":"user","content":"un emoji coupé \\ud83d ici"}}\n'
ASSISTANT_LINE = '{"type":"assistant","uuid":"a1","message":{"content":[{"type":"text","text":"réponse \\ude00"}]}}\n'


def storable(text: str) -> bool:
    text.encode("utf-8")  # raises on a lone surrogate, as SQLite does
    return True


def test_lone_surrogate_in_a_session_is_replaced_and_the_text_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(SURROGATE_LINE + ASSISTANT_LINE)
    result = read(path, "claude")
    (seg,) = result.segments
    assert "un emoji coupé \ufffd ici" in seg.text and "réponse \ufffd" in seg.text
    assert storable(seg.text) and storable(json.dumps(seg.meta, ensure_ascii=False))


def test_lone_surrogate_in_a_json_export_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text('[{"from":"Alex","date":"2024-03-02T10:00:00","text":"rdv 18h \\ud83d devant la gare"}]')
    found, skipped = discover([path])
    assert not skipped, skipped
    segs = read(path, found[0][1]).segments
    assert segs and all(storable(s.text) for s in segs)
    assert any("rdv 18h \ufffd devant la gare" in s.text for s in segs)


def test_fix_helpers() -> None:
    assert fix_text("ok é") == "ok é"
    assert fix_value({"a\udce9": ["x\ud83d", 3, None]}) == {"a\ufffd": ["x\ufffd", 3, None]}


@pytest.mark.skipif(os.name != "posix", reason="bytes file names")
def test_file_name_not_utf8_is_skipped_with_a_reason_and_the_rest_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "dossier"
    folder.mkdir()
    (folder / "ok.txt").write_text("Un PV lisible.\n")
    bad = os.path.join(os.fsencode(folder), "caf\xe9.txt".encode("latin-1"))
    with open(bad, "wb") as fh:
        fh.write(b"Bonjour.\n")
    found, skipped = discover([folder])
    assert [p.name for p, _ in found] == ["ok.txt"]
    ((shown, reason),) = skipped
    assert "not valid UTF-8" in reason and storable(str(shown)) and "\ufffd" in str(shown)


def test_record_with_a_list_type_is_skipped_alone_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    lines = [
        '{"type":["user"],"uuid":"u0"}\n',
        '{"type":{"a":1},"uuid":"u0b"}\n',
        '{"type":"user","uuid":"u1","message":{"role":"user","content":"bonjour"}}\n',
        '{"type":"assistant","uuid":"a1","message":{"content":[{"type":"text","text":"salut"}]}}\n',
    ]
    path.write_text("".join(lines))
    result = read(path, "claude")
    (seg,) = result.segments
    assert "bonjour" in seg.text and "salut" in seg.text
    assert result.skipped_lines == 2
    assert any("line 1" in w for w in result.warnings)


def test_only_bad_records_skip_the_file_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"type":["user"]}\n')
    with pytest.raises(SkipFile, match="no valid JSON line"):
        read(path, "claude")


def test_txt_chunks_cite_their_own_lines(tmp_path: Path) -> None:
    lines = [f"Ligne {i} du procès-verbal : le témoin déclare des choses." for i in range(1, 41)]
    lines[11] = "Ligne 12 : le suspect est arrivé à 23h devant la gare."
    path = tmp_path / "pv.txt"
    path.write_text("\n".join(lines) + "\n")
    segs = read(path, "text").segments
    chunks = chunk_segments(segs, ChunkerConfig(size=40, overlap=0), lambda t: len(t.split()) + 2)
    assert len(chunks) > 3
    hit = next(c for c in chunks if "23h devant la gare" in c.text)
    assert hit.line_start is not None and hit.line_end is not None
    assert hit.line_start <= 12 <= hit.line_end and hit.line_end - hit.line_start < 6
    assert chunks[0].line_start == 1 and chunks[-1].line_end == 40
    assert all("uuids" not in c.meta for c in chunks)
    for c in chunks:  # each chunk's first and last lines are the ones it cites
        assert c.text.splitlines()[0] == lines[c.line_start - 1]
        assert c.text.splitlines()[-1] == lines[c.line_end - 1]


def test_markdown_chunks_cite_their_own_lines(tmp_path: Path) -> None:
    body = [f"Paragraphe {i} de la note de synthèse, avec assez de mots." for i in range(30)]
    path = tmp_path / "note.md"
    path.write_text("# Note\n\n" + "\n".join(body) + "\n")
    segs = read(path, "text").segments
    chunks = chunk_segments(segs, ChunkerConfig(size=30, overlap=0), lambda t: len(t.split()) + 2)
    assert len(chunks) > 3 and chunks[-1].line_end == 32 and chunks[1].line_start > 1


def test_reasons_quoting_file_content_stay_one_printable_line(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"Date\x11Exp\x85diteur,Conv\x1dersation,Messag\n2024-01-01,A,B,C\n")
    with pytest.raises(SkipFile) as err:
        read(path, "csv")
    assert len(str(err.value).splitlines()) == 1 and "\x1d" not in str(err.value)
