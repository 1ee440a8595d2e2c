"""sentence-transformers backend on a tiny BERT built here (random weights, 40-word vocab): real loading
from a local path, real tokenisation, real mean pooling. Needs the ``st`` extra (skipped otherwise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
st = pytest.importorskip("sentence_transformers")
transformers = pytest.importorskip("transformers")

from tiny_models import build_tiny_bert  # noqa: E402

from pisteur.embed import EmbedderError, load_embedder  # noqa: E402
from pisteur.embed.st import auto_batch_size, tokenizer_adds_eos  # noqa: E402
from pisteur.models.catalog import get_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))[1]


def _manual_mean(path: Path, text: str) -> np.ndarray:
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path).eval()
    enc = tok([text], return_tensors="pt", truncation=True, max_length=32)
    with torch.no_grad():
        h = model(**enc).last_hidden_state[0]
    v = h.mean(0).numpy()
    return v / np.linalg.norm(v)


def test_loads_by_path_and_mean_pools(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    emb = load_embedder(f"st:{tiny_model}", query_prefix="query : ")
    assert emb.dims == 32 and emb.describe()["device"] == "cpu"
    docs = emb.embed_documents(["garde à vue demain", "def return code"])
    assert docs.shape == (2, 32)
    np.testing.assert_allclose(docs[0], _manual_mean(tiny_model, "garde à vue demain"), atol=1e-5)
    q = emb.embed_queries(["rdv police"])
    np.testing.assert_allclose(q[0], _manual_mean(tiny_model, "query : rdv police"), atol=1e-5)
    assert emb.describe()["query_prefix"] == "query : "
    assert emb.count_tokens("garde à vue") == 5  # [CLS] garde à vue [SEP]


def test_truncation_to_max_tokens(tiny_model: Path) -> None:
    emb = load_embedder(f"st:{tiny_model}", max_tokens=8)
    long = " ".join(["police"] * 100)
    assert emb.max_tokens == 8
    np.testing.assert_allclose(
        emb.embed_documents([long])[0], emb.embed_documents([" ".join(["police"] * 6)])[0], atol=1e-5
    )


def test_missing_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedderError, match="cannot load"):
        load_embedder("st:org/model-that-is-not-cached")


def test_eos_check_and_dims(tiny_model: Path) -> None:
    emb = load_embedder(f"st:{tiny_model}")
    tok = emb._model.tokenizer
    assert tokenizer_adds_eos(tok, "[SEP]") is True  # BERT ends every text with [SEP]
    assert tokenizer_adds_eos(tok, "<|endoftext|>") is False  # unknown token: pisteur must append it
    info = get_model("qwen3-embedding-0.6b")
    qwen_like = load_embedder(f"st:{tiny_model}", info=info)  # a last-token model whose EOS is missing
    assert qwen_like.append_eos is True and qwen_like.describe()["eos"] == "appended by pisteur"
    with pytest.raises(EmbedderError, match="not in the catalogue"):
        load_embedder(f"st:{tiny_model}", dims=16)


def test_auto_batch_size() -> None:
    assert auto_batch_size("cpu", None, 0.1) == 32
    assert auto_batch_size("cuda", 20 * 10**9, 8.0) < auto_batch_size("cuda", 20 * 10**9, 0.6)
    assert auto_batch_size("cuda", 80 * 10**9, 0.1) == 256


def test_model_prompts_by_name(tiny_model: Path) -> None:
    emb = load_embedder(f"st:{tiny_model}", prompts={"q": "query : "}, query_prompt_name="q")
    q = emb.embed_queries(["rdv police"])
    np.testing.assert_allclose(q[0], _manual_mean(tiny_model, "query : rdv police"), atol=1e-5)
    d = emb.describe()
    assert d["query_prefix"] == "query : " and d["query_prompt_name"] == "q"
    with pytest.raises(EmbedderError, match="not in the catalogue"):
        load_embedder(f"st:{tiny_model}", truncate_dim=16)
