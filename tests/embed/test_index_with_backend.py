"""`pisteur index --model ollama:... --dims N` end to end against the local Ollama stub: the manifest records
the Matryoshka dims, the query instruction and the prefixes (what a later search needs to embed queries)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from stubs import ollama_stub
from typer.testing import CliRunner


def test_index_records_model_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pisteur.cli import app

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Le rendez-vous avec le suspect a eu lieu jeudi.\n", encoding="utf-8")
    (docs / "b.txt").write_text("La migration de la base a échoué.\n", encoding="utf-8")
    with ollama_stub({"qwen3-embedding:0.6b": 1024}) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        out = CliRunner().invoke(
            app, ["index", str(docs), "--model", "ollama:qwen3-embedding:0.6b", "--dims", "256", "--json"]
        )
        assert out.exit_code == 0, out.output
        embedded = [r["payload"]["input"] for r in srv.requests]
    sent = [t for batch in embedded for t in batch]
    for p in docs.iterdir():  # each document reaches the server, without the query instruction
        assert any(p.read_text(encoding="utf-8").strip() in t for t in sent)
    assert not any(t.startswith("Instruct:") for t in sent)
    manifest = json.loads((Path(os.environ["PISTEUR_INDEX"]) / "manifest.json").read_text())
    model = manifest["model"]
    assert model["spec"] == "ollama:qwen3-embedding:0.6b@256d"
    assert model["dims"] == 256 and model["native_dims"] == 1024 and model["matryoshka"] is True
    assert model["instruction"].startswith("Instruct: Given a web search query")
    assert model["document_prefix"] == "" and model["pooling"] == "last"
