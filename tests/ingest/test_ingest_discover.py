"""discover(): walking folders, reader assignment, what is skipped and what is ignored; read() contract."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ingest_paths import PROJECTS

from pisteur.ingest import READER_VERSION, base, discover, read, reader_names
from pisteur.types import ParseResult, SkipFile


def test_claude_projects_layout() -> None:
    found, skipped = discover([PROJECTS])
    assert not skipped
    names = {p.relative_to(PROJECTS).as_posix(): r for p, r in found}
    assert set(names.values()) == {"claude"}
    assert len(names) == 6
    assert "-home-USER-projects-spotter-worktrees-spotter-4te/ae4a77f8-aedd-4bc1-888f-c94edc91af04/subagents/agent-aac57f5.jsonl" in names  # noqa: E501
    assert [p for p, _ in found] == sorted((p for p, _ in found), key=str)  # sessions before subagents


def test_walk_rules(tmp_path: Path) -> None:
    (tmp_path / "a" / ".git").mkdir(parents=True)
    (tmp_path / "a" / ".git" / "x.md").write_text("hidden")
    (tmp_path / "a" / ".notes.txt").write_text("hidden file")
    (tmp_path / "a" / "pv.txt").write_text("procès-verbal")
    (tmp_path / "a" / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "a" / "vide.md").write_text("")
    (tmp_path / "a" / "s.JSONL").write_text('{"type": "user"}\n')
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")  # a symlink loop must not hang the walk
    (tmp_path / "link.txt").symlink_to(tmp_path / "a" / "pv.txt")  # the same file twice: listed once
    (tmp_path / "a" / "dead.md").symlink_to(tmp_path / "nowhere.md")
    os.mkfifo(tmp_path / "a" / "pipe.txt")  # must not block the walk
    found, skipped = discover([tmp_path, tmp_path / "a" / "photo.jpg", tmp_path / "missing"])
    listed = [(p.name, r) for p, r in found]
    assert ("s.JSONL", "claude") in listed and len(listed) == 2
    assert ("pv.txt", "text") in listed or ("link.txt", "text") in listed
    reasons = {p.name: r for p, r in skipped}
    assert reasons == {
        "vide.md": "empty file",
        "photo.jpg": "unsupported file type (.jpg)",  # named explicitly: reported; found in a folder: ignored
        "missing": "no such file or directory",
        "dead.md": "cannot stat: No such file or directory",
    }


def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("x")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: permissions are not enforced")
        found, skipped = discover([tmp_path])
        assert found == [] and skipped == [(path, "permission denied")]
    finally:
        path.chmod(0o644)


def test_every_extension_has_a_reader() -> None:
    assert set(reader_names()) >= {"claude", "text", "html", "eml", "pdf", "docx", "csv", "json"}
    expected = {".jsonl": "claude", ".txt": "text", ".md": "text", ".pdf": "pdf", ".docx": "docx",
                ".html": "html", ".htm": "html", ".eml": "eml", ".csv": "csv", ".json": "json"}  # fmt: skip
    for ext, name in expected.items():
        assert base.reader_for(Path("x" + ext.upper())) == name
    assert base.reader_for(Path("x.py")) is None
    assert isinstance(READER_VERSION, int) and READER_VERSION >= 1


def test_read_never_raises_anything_but_skipfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Exploding:
        name = "boom"
        extensions = (".boom",)

        def probe(self, path: Path) -> str | None:
            return None

        def read(self, path: Path, start_offset: int = 0) -> ParseResult:
            raise ValueError("unexpected structure")

    base.READERS.add("boom", Exploding())
    try:
        with pytest.raises(SkipFile, match="boom reader failed: ValueError: unexpected structure"):
            read(tmp_path / "x.boom", "boom")
    finally:
        base.READERS.remove("boom")
    for reader in ("claude", "text", "html", "eml", "pdf", "docx", "csv", "json"):
        with pytest.raises(SkipFile):
            read(tmp_path / "does-not-exist", reader)
    deleted = tmp_path / "gone.jsonl"
    with pytest.raises(SkipFile):
        read(deleted, "claude")


@pytest.mark.parametrize("reader", ["claude", "text", "html", "eml", "pdf", "docx", "csv", "json"])
def test_random_bytes_never_crash(tmp_path: Path, reader: str) -> None:
    import random

    rng = random.Random(reader)
    path = tmp_path / "junk"
    for size in (1, 7, 512, 20_000):
        path.write_bytes(bytes(rng.randrange(256) for _ in range(size)))
        try:
            result = read(path, reader)
        except SkipFile as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert isinstance(result, ParseResult)


def test_an_export_or_index_inside_a_case_folder_is_not_read_back(tmp_path: Path) -> None:
    from pisteur.ingest import discover

    case = tmp_path / "affaire"
    (case / "export").mkdir(parents=True)
    (case / "pv.txt").write_text("Procès-verbal d'audition.", encoding="utf-8")
    (case / "export" / ".pisteur").write_text("pisteur export\n", encoding="utf-8")
    (case / "export" / "export.json").write_text("{}", encoding="utf-8")
    (case / "export" / "chunks.jsonl").write_text('{"text": "x"}\n', encoding="utf-8")
    (case / "index").mkdir()
    (case / "index" / "manifest.json").write_text("{}", encoding="utf-8")
    (case / "index" / "index.sqlite").write_bytes(b"")
    (case / "index" / "notes.txt").write_text("pas un document", encoding="utf-8")
    files, _skipped = discover([case])
    assert [p.name for p, _ in files] == ["pv.txt"]
