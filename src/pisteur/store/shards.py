"""Both cores on one query: row-range shards scanned in a thread pool, results merged.

faiss scans one query on one thread, and numpy's int8->float conversion is single-threaded too; both release
the GIL, so splitting the rows into ``threads`` contiguous shards and scanning them concurrently uses every
core on a single query. The merge is exact: the global top-k is in the union of the shards' top-k.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0


def _init_worker() -> None:
    # OpenMP's thread count is per calling thread: set it in every worker, not only in the main thread
    try:
        single_thread_faiss()
    except ImportError:  # pragma: no cover - faiss is a dependency
        pass


def default_threads() -> int:
    env = os.environ.get("PISTEUR_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def pool(threads: int) -> ThreadPoolExecutor:
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE < threads:
        _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pisteur-shard",
                                   initializer=_init_worker)
        _POOL_SIZE = threads
    return _POOL


def parallel_map(fn: Callable[[Any], T], items: Sequence[Any], threads: int) -> list[T]:
    if threads <= 1 or len(items) <= 1:
        return [fn(it) for it in items]
    return list(pool(threads).map(fn, items))


def split_ranges(n: int, parts: int, *, min_rows: int = 50_000) -> list[tuple[int, int]]:
    """``parts`` contiguous [start, end) ranges covering ``n`` rows (fewer for small ``n``)."""
    parts = max(1, min(parts, n // min_rows if n >= min_rows else 1))
    bounds = np.linspace(0, n, parts + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def merge_topk(results: Sequence[tuple[np.ndarray, np.ndarray]], k: int, *, larger_is_better: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-shard (keys, values) into the global top-k."""
    keys = [r[0] for r in results if len(r[0])]
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    allk = np.concatenate(keys)
    allv = np.concatenate([r[1] for r in results if len(r[0])])
    order = np.argsort(-allv if larger_is_better else allv, kind="stable")[:k]
    return allk[order], allv[order]


def single_thread_faiss() -> None:
    """One OpenMP thread per faiss call: we parallelise across shards ourselves, and OpenMP teams that
    spin-wait on a loaded 2-core machine made one 1M-code query 5-10x slower in our measurements."""
    import faiss

    if os.environ.get("PISTEUR_FAISS_OMP") is None:
        faiss.omp_set_num_threads(1)


class BinaryShards:
    """Packed sign codes split into faiss ``IndexBinaryFlat`` shards; exact Hamming top-k over all shards.

    ``rows`` returned are global row numbers (0..n-1); the caller maps them to ids. Dead rows and filters
    are applied inside faiss with an ``IDSelectorBitmap`` (no over-fetch, so very selective filters stay
    exact).
    """

    def __init__(self, codes: Sequence[np.ndarray], dims: int, threads: int | None = None) -> None:
        import faiss

        self.dims = dims
        self.threads = threads or default_threads()
        n = sum(len(c) for c in codes)
        self.n = n
        self.ranges = split_ranges(n, self.threads)
        self.indexes = []
        # feed each shard from the (memory-mapped) segments without materialising the whole matrix
        seg_bounds = np.cumsum([0] + [len(c) for c in codes])
        single_thread_faiss()
        for a, b in self.ranges:
            idx = faiss.IndexBinaryFlat(dims)
            # the faiss stubs omit the SWIG attributes use_heap and xb (both exist at run time)
            idx.use_heap = False  # type: ignore[attr-defined]  # counting selection: top-4000 costs the same as top-10
            for s, c in enumerate(codes):
                lo, hi = max(a, seg_bounds[s]), min(b, seg_bounds[s + 1])
                for i in range(lo, hi, 262_144):
                    j = min(hi, i + 262_144)
                    idx.add(np.ascontiguousarray(c[i - seg_bounds[s] : j - seg_bounds[s]], np.uint8))
            self.indexes.append(idx)
        # zero-copy views of the codes faiss holds: candidates are re-read from RAM, not from the mmaps
        width = (dims + 7) // 8
        self.views: list[np.ndarray] = []
        for ix in self.indexes:
            codes_ptr = ix.xb.data()  # type: ignore[attr-defined]
            self.views.append(faiss.rev_swig_ptr(codes_ptr, ix.ntotal * width).reshape(ix.ntotal, width))
        self.starts = np.array([a for a, _ in self.ranges] + [n], np.int64)

    def codes(self, rows: np.ndarray) -> np.ndarray:
        """Packed codes of global ``rows`` (from the shards' memory)."""
        out = np.empty((len(rows), (self.dims + 7) // 8), np.uint8)
        shard = np.searchsorted(self.starts, rows, side="right") - 1
        for s in np.unique(shard):
            sel = np.flatnonzero(shard == s)
            out[sel] = self.views[s][rows[sel] - self.starts[s]]
        return out

    def nbytes(self) -> int:
        return self.n * self.dims // 8

    def search(self, qbits: np.ndarray, k: int, mask: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, hamming distances) ascending; ``mask``: bool (n,) rows allowed, or None."""
        import faiss

        q = np.ascontiguousarray(qbits, np.uint8).reshape(1, -1)

        def one(si: int) -> tuple[np.ndarray, np.ndarray]:
            a, b = self.ranges[si]
            idx = self.indexes[si]
            params = None
            if mask is not None:
                sub = mask[a:b]
                allowed = int(np.count_nonzero(sub))
                if allowed == 0:
                    return np.zeros(0, np.int64), np.zeros(0, np.float32)
                if allowed < b - a:
                    bitmap = np.packbits(sub, bitorder="little")
                    sel = faiss.IDSelectorBitmap(len(sub), faiss.swig_ptr(bitmap))
                    params = faiss.SearchParameters()
                    params.sel = sel
                    d, i = idx.search(q, min(k, allowed), params=params)
                    del sel, bitmap
                    keep = i[0] >= 0
                    return i[0][keep].astype(np.int64) + a, d[0][keep].astype(np.float32)
            d, i = idx.search(q, min(k, b - a))
            keep = i[0] >= 0
            return i[0][keep].astype(np.int64) + a, d[0][keep].astype(np.float32)

        return merge_topk(parallel_map(one, list(range(len(self.indexes))), self.threads), k,
                          larger_is_better=False)
