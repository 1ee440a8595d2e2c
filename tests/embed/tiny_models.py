"""Tiny models built inside the tests (random weights, a 30-word vocabulary): no download, real loading.

``build_tiny_bert`` writes a Hugging Face BERT + WordPiece tokenizer and a sentence-transformers folder
(mean pooling); ``write_bert_gguf`` writes the same weights as a GGUF file the way llama.cpp's
``convert_hf_to_gguf.py`` does for BERT (tensor names from ``gguf``'s map, phantom-space WordPiece vocab,
special tokens from the tokenizer files), so that llama.cpp and sentence-transformers run one model.
"""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "query passage : le la les garde a vue pv rdv demain rendez vous police message insultant code def return"
).split()
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_bert(root: Path) -> tuple[Path, Path]:
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # 3.x - 5.x
        from sentence_transformers.models import Pooling, Transformer

    hf_dir, st_dir = root / "hf", root / "st"
    hf_dir.mkdir(parents=True)
    vocab = [*SPECIAL, *dict.fromkeys(WORDS)]
    (hf_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = transformers.BertTokenizer.from_pretrained(hf_dir, do_lower_case=True)
    assert tok("garde a vue")["input_ids"] == [2, 11, 12, 13, 3], "tiny vocabulary not loaded"
    tok.save_pretrained(hf_dir)
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )
    transformers.BertModel(cfg).save_pretrained(hf_dir)
    word = Transformer(str(hf_dir), max_seq_length=32)
    get_dim = getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension
    pool = Pooling(get_dim(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pool], device="cpu").save(str(st_dir))
    return hf_dir, st_dir


def write_bert_gguf(hf_dir: Path, out: Path, pooling: str = "mean", q8: bool = False) -> Path:
    """``q8=True`` stores the 2-D weight matrices as Q8_0 (llama.cpp's 8-bit blocks), the rest in F32."""
    import gguf
    import transformers

    model = transformers.BertModel.from_pretrained(hf_dir)
    cfg = model.config
    vocab = (hf_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    w = gguf.GGUFWriter(str(out), "bert")
    w.add_name("tiny-bert")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_head_count(cfg.num_attention_heads)
    w.add_layer_norm_eps(cfg.layer_norm_eps)
    w.add_causal_attention(False)
    w.add_pooling_type({"mean": gguf.PoolingType.MEAN, "cls": gguf.PoolingType.CLS}[pooling])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if q8 else gguf.LlamaFileType.ALL_F32)
    types = [gguf.TokenType.CONTROL if t in SPECIAL else gguf.TokenType.NORMAL for t in vocab]
    phantom = [t if t in SPECIAL else (t[2:] if t.startswith("##") else "\u2581" + t) for t in vocab]
    w.add_token_type_count(cfg.type_vocab_size)
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list(phantom)
    w.add_token_types(types)
    gguf.SpecialVocab(hf_dir, n_vocab=len(vocab)).add_to_gguf(w)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, cfg.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        if name in ("embeddings.position_ids",) or name.startswith("pooler."):
            continue
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ValueError(f"no GGUF name for {name}")
        data = tensor.detach().float().numpy()
        if q8 and data.ndim == 2 and data.shape[-1] % 32 == 0 and not new.startswith(("token_types", "position")):
            q = gguf.GGMLQuantizationType.Q8_0
            w.add_tensor(new, gguf.quants.quantize(data, q), raw_dtype=q)
        else:
            w.add_tensor(new, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out
