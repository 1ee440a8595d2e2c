"""Fixtures for the serve tests: a small index built with the test-only hashing embedder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "fixtures" / "serve" / "docs"
MODEL = "test-hash:serve"


def session_line(kind: str, text: str, *, uuid: str, ts: str, session: str = "sess-1", cwd: str = "/home/u/proj",
                 content: object = None) -> str:
    rec = {
        "type": kind, "uuid": uuid, "parentUuid": None, "sessionId": session, "cwd": cwd, "timestamp": ts,
        "isSidechain": False, "userType": "external", "version": "2.0.0", "gitBranch": "main",
        "message": {"role": kind, "content": content if content is not None else text},
    }
    if kind == "assistant":
        rec["message"] = {"role": "assistant", "model": "claude", "id": "msg-" + uuid,
                          "content": content if content is not None else [{"type": "text", "text": text}]}
    return json.dumps(rec, ensure_ascii=False) + "\n"


def write_session(path: Path, turns: list[tuple[str, str]], start: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for i, (kind, text) in enumerate(turns, start):
            f.write(session_line(kind, text, uuid=f"u{i:04d}", ts=f"2026-11-0{1 + i % 9}T10:{i % 60:02d}:00.000Z"))


@pytest.fixture
def docs_index(tmp_path: Path) -> Path:
    from helpers import build_index

    src = tmp_path / "docs"
    shutil.copytree(DOCS, src)
    return build_index(tmp_path, [src], model=MODEL, name="index")


@pytest.fixture
def service(docs_index: Path):
    from pisteur.serve.service import Service

    s = Service(docs_index)
    yield s
    s.close()
