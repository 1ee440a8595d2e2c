"""Resource limits: oversized files, records and messages, ZIP bombs, MIME part floods, truncated exports."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from pisteur.ingest import Limits, read
from pisteur.types import SkipFile


def user(uuid: str, text: str) -> str:
    return json.dumps({"type": "user", "uuid": uuid, "message": {"role": "user", "content": text}}) + "\n"


def test_file_size_limit_per_reader_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "pv.txt"
    path.write_text("x " * (1024 * 1024))  # 2 MiB
    assert read(path, "text").segments
    with pytest.raises(SkipFile, match="file too large"):
        read(path, "text", limits=Limits(file_mb_by_reader={"text": 1}))
    session = tmp_path / "s.jsonl"
    session.write_text(user("u1", "x " * (1024 * 1024)))
    with pytest.raises(SkipFile, match="file too large"):
        read(session, "claude", limits=Limits(file_mb_by_reader={"claude": 1}))


def test_huge_message_is_truncated_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(user("u1", "début " + "a" * 3_000_000) + user("u2", "question suivante"))
    result = read(path, "claude")
    first = result.segments[0]
    assert first.text.startswith("User: début") and len(first.text) < 250_000 and "truncated" in first.text
    assert any("truncated" in w for w in result.warnings)
    assert "question suivante" in result.segments[1].text


def test_record_over_the_limit_is_skipped_without_being_loaded(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(user("u1", "avant") + user("u2", "z" * (3 * 1024 * 1024)) + user("u3", "après"))
    result = read(path, "claude", limits=Limits(record_mb=1))
    texts = " ".join(s.text for s in result.segments)
    assert "avant" in texts and "après" in texts and "zzzz" not in texts
    assert result.skipped_lines == 1 and any("line 2" in w and "MiB" in w for w in result.warnings)


def zip_bomb(inner: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"\0" * inner)
    return buf.getvalue()


def test_docx_zip_bomb_is_refused_before_decompression(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    path.write_bytes(zip_bomb(60 * 1024 * 1024))
    assert path.stat().st_size < 200_000
    with pytest.raises(SkipFile, match="suspicious .docx"):
        read(path, "docx")
    with pytest.raises(SkipFile, match="expands to"):
        read(path, "docx", limits=Limits(unzipped_mb=10, zip_ratio=10_000))


def multipart(parts: int, close: bool = True) -> bytes:
    head = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: Rapport\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n')
    body = b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLe texte du rapport.\r\n"
    body += b"".join(b"--XX\r\nContent-Type: application/octet-stream\r\n\r\nAAAA\r\n" for _ in range(parts))
    return head + body + (b"--XX--\r\n" if close else b"--XX\r\nContent-Type: text/plain\r\n\r\nLe d")


def test_eml_with_many_mime_parts_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "flood.eml"
    path.write_bytes(multipart(50_000))
    result = read(path, "eml", limits=Limits(mime_parts=100))
    assert "Le texte du rapport." in result.segments[0].text
    assert any("MIME parts" in w for w in result.warnings)


def test_truncated_eml_gets_a_warning(tmp_path: Path) -> None:
    whole, cut = tmp_path / "ok.eml", tmp_path / "cut.eml"
    whole.write_bytes(multipart(2))
    cut.write_bytes(multipart(2, close=False))
    assert not any("truncated" in w for w in read(whole, "eml").warnings)
    assert any("truncated" in w for w in read(cut, "eml").warnings)


def test_truncated_csv_gets_a_warning(tmp_path: Path) -> None:
    rows = "date,expediteur,message\n2024-01-02 10:00,Alex,rdv 18h devant la gare\n2024-01-02 10:05,Sam,ok\n"
    whole, cut, no_newline = tmp_path / "ok.csv", tmp_path / "cut.csv", tmp_path / "excel.csv"
    whole.write_text(rows)
    cut.write_text(rows + "2024-01-02 10:07,Ale")
    no_newline.write_text(rows.rstrip("\n"))
    assert read(whole, "csv").warnings == []
    assert read(no_newline, "csv").warnings == []
    assert any("truncated" in w for w in read(cut, "csv").warnings)


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="mime_parts"):
        Limits(mime_parts=0)
