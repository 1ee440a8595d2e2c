"""Vector quantisation: pure functions, no I/O.

Precisions of a stored vector (vectors are L2-normalised float32 on the way in):

- ``float32``: as is (4 bytes/dim).
- ``float16``: IEEE half (2 bytes/dim); inner products lose ~1e-3.
- ``int8``: per-dimension affine code ``x_j ~ lo_j + (c_j + 128) * step_j`` with ``lo``/``step`` calibrated
  from the data (``calibrate_int8``), not a fixed ``x127`` scale: e5-like embeddings use a few hundredths of
  [-1, 1] on most dimensions, so a fixed scale wastes most of the 256 levels.
- ``binary``: sign bits packed 8 per byte (``d/8`` bytes), compared by Hamming distance; a Hamming distance
  ``h`` over ``d`` bits maps to an approximate cosine ``cos(pi * h / d)`` (random-hyperplane estimate).
  Real embeddings share a large common direction (random pairs of e5 passages have cosine ~0.5), so the
  stored bits are the signs of ``x - mean`` (the per-dimension mean of the calibration sample): centred bits
  carry information on every dimension; the query is centred the same way before its signs are taken
  (measured on real e5 vectors: much better candidates than raw query signs). Candidates
  are then re-ranked *asymmetrically*: the float query against the +-1 code (``asymmetric_scores``), which
  is much closer to the true order than the Hamming distance, before the fine rescoring.

The inner product against int8 codes never de-quantises the matrix:
``q . x = q . (lo + 128 step) + (q * step) . c`` -- one constant plus a dot product with the raw codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRECISIONS = ("float32", "float16", "int8", "binary")
FINE_DTYPES = {"float32": np.float32, "float16": np.float16, "int8": np.int8}


@dataclass(frozen=True)
class Int8Calibration:
    """Per-dimension affine int8 code: ``x = lo + (c + 128) * step``."""

    lo: np.ndarray  # float32 (d,)
    step: np.ndarray  # float32 (d,)
    samples: int = 0
    mean: np.ndarray | None = None  # per-dimension mean, the centre of the binary codes
    residual: float = 1.0  # mean norm of ``x - mean`` (to de-quantise binary codes)

    def to_array(self) -> np.ndarray:
        mean = self.mean if self.mean is not None else np.zeros_like(self.lo)
        return np.stack([self.lo, self.step, np.full_like(self.lo, float(self.samples)), mean,
                         np.full_like(self.lo, self.residual)]).astype(np.float32)

    @classmethod
    def from_array(cls, arr: np.ndarray) -> Int8Calibration:
        arr = np.asarray(arr, np.float32)
        samples = int(arr[2][0]) if arr.shape[0] > 2 else 0
        mean = arr[3].copy() if arr.shape[0] > 3 else None
        residual = float(arr[4][0]) if arr.shape[0] > 4 else 1.0
        return cls(arr[0].copy(), arr[1].copy(), samples, mean, residual)


def calibrate_int8(sample: np.ndarray, *, percentile: float = 0.0) -> Int8Calibration:
    """Per-dimension range from a sample of the data (the first flushed batch, up to ~100k rows).

    ``percentile`` > 0 clips that share of outliers at each end. The range is widened by a margin that
    shrinks with the sample size (small first batches would otherwise clip later data), and clamped to the
    [-1, 1] range of unit vectors.
    """
    x = np.asarray(sample, np.float32)
    if x.ndim != 2 or not len(x):
        raise ValueError("calibration needs a non-empty 2-d sample")
    if percentile > 0:
        lo, hi = np.percentile(x, [percentile, 100 - percentile], axis=0)
    else:
        lo, hi = x.min(axis=0), x.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    margin = span * max(0.02, 0.5 / np.sqrt(len(x)))
    lo = np.maximum(lo - margin, -1.0)
    hi = np.minimum(hi + margin, 1.0)
    step = np.maximum(hi - lo, 1e-6) / 255.0
    mean = x.mean(axis=0)
    residual = float(np.linalg.norm(x - mean, axis=1).mean())
    return Int8Calibration(lo.astype(np.float32), step.astype(np.float32), len(x), mean.astype(np.float32),
                           residual)


def encode_int8(x: np.ndarray, cal: Int8Calibration) -> np.ndarray:
    c = np.rint((np.asarray(x, np.float32) - cal.lo) / cal.step) - 128.0
    return np.clip(c, -128, 127).astype(np.int8)


def decode_int8(codes: np.ndarray, cal: Int8Calibration) -> np.ndarray:
    return ((np.asarray(codes, np.float32) + 128.0) * cal.step + cal.lo).astype(np.float32)


def int8_query(query: np.ndarray, cal: Int8Calibration) -> tuple[np.ndarray, float]:
    """(weights, constant) so that ``codes @ weights + constant`` is the inner product with the query."""
    q = np.asarray(query, np.float32).reshape(-1)
    return (q * cal.step).astype(np.float32), float(q @ (cal.lo + 128.0 * cal.step))


def pack_bits(x: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """Sign bits (of ``x - center``), 8 per byte (big-endian bit order within a byte, like ``np.packbits``)."""
    x = np.asarray(x)
    return np.packbits((x - center if center is not None else x) > 0, axis=-1)


def asymmetric_scores(codes: np.ndarray, query: np.ndarray, dims: int, *, block: int = 16384) -> np.ndarray:
    """``q . s / sqrt(d)`` with ``s`` the +-1 code of each row: float query against binary codes."""
    q = np.asarray(query, np.float32).reshape(-1)
    out = np.empty(len(codes), np.float32)
    w2 = (2.0 * q / np.float32(np.sqrt(dims))).astype(np.float32)  # float32: no float64 upcast
    w0 = float(-q.sum() / np.sqrt(dims))
    for i in range(0, len(codes), block):
        bits = np.unpackbits(np.asarray(codes[i : i + block], np.uint8), axis=1, count=dims)
        out[i : i + block] = matvec(bits.astype(np.float32), w2) + w0
    return out


def matvec(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``a @ v`` without BLAS: single-threaded by design (callers parallelise over shards); a threaded BLAS
    matvec spin-waiting on a loaded 2-core machine was 10-25x slower in our measurements."""
    return np.einsum("ij,j->i", a, v)


def unpack_bits(codes: np.ndarray, dims: int) -> np.ndarray:
    """Packed bits to unit vectors of +-1/sqrt(d)."""
    bits = np.unpackbits(np.asarray(codes, np.uint8), axis=-1, count=dims).astype(np.float32)
    return ((bits * 2.0 - 1.0) / np.float32(np.sqrt(dims))).astype(np.float32)


def hamming_to_cosine(h: np.ndarray, dims: int) -> np.ndarray:
    return np.cos(np.pi * np.asarray(h, np.float32) / dims).astype(np.float32)


def hamming(query_bits: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Hamming distances of one packed query against packed codes (numpy; for small subsets)."""
    x = np.bitwise_xor(np.asarray(codes, np.uint8), np.asarray(query_bits, np.uint8).reshape(1, -1))
    return np.unpackbits(x, axis=1).sum(axis=1, dtype=np.int32)


def encode(x: np.ndarray, precision: str, cal: Int8Calibration | None = None) -> np.ndarray:
    if precision == "float32":
        return np.ascontiguousarray(x, np.float32)
    if precision == "float16":
        return np.asarray(x, np.float32).astype(np.float16)
    if precision == "int8":
        if cal is None:
            raise ValueError("int8 needs a calibration")
        return encode_int8(x, cal)
    if precision == "binary":
        return pack_bits(x)
    raise ValueError(f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})")


def decode(codes: np.ndarray, precision: str, dims: int, cal: Int8Calibration | None = None) -> np.ndarray:
    if precision in ("float32", "float16"):
        return np.asarray(codes, np.float32)
    if precision == "int8":
        assert cal is not None
        return decode_int8(codes, cal)
    if precision == "binary":
        return unpack_bits(codes, dims)
    raise ValueError(f"unknown precision {precision!r}")


def scores(codes: np.ndarray, query: np.ndarray, precision: str, dims: int,
           cal: Int8Calibration | None = None, *, block: int = 16384) -> np.ndarray:
    """Inner products of a float query against ``codes`` (any precision), in blocks to bound memory."""
    q = np.asarray(query, np.float32).reshape(-1)
    n = len(codes)
    out = np.empty(n, np.float32)
    if precision == "binary":
        qb = pack_bits(q[None, :])[0]
        for i in range(0, n, block):
            out[i : i + block] = hamming_to_cosine(hamming(qb, codes[i : i + block]), dims)
        return out
    if precision == "int8":
        assert cal is not None
        w, c0 = int8_query(q, cal)
        for i in range(0, n, block):
            out[i : i + block] = matvec(np.asarray(codes[i : i + block], np.float32), w) + c0
        return out
    for i in range(0, n, block):
        out[i : i + block] = matvec(np.asarray(codes[i : i + block], np.float32), q)
    return out


def top_k(ids: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` by value (descending), ties by position."""
    if not len(values) or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    k = min(k, len(values))
    part = np.argpartition(-values, k - 1)[:k] if k < len(values) else np.arange(len(values))
    part = part[np.lexsort((part, -values[part]))]
    return np.asarray(ids, np.int64)[part], np.asarray(values, np.float32)[part]
