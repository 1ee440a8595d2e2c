"""Exact float32 vectors in append-only segments (the default vector layer for small indexes).

On disk (``<index>/vectors/``): ``seg-G.vec.npy`` (n x d float32) + ``seg-G.ids.npy`` (int64) hold the vectors
added in generation G, ``del-G.ids.npy`` the ids removed in G, and ``base-G`` marks a compaction: everything
older than G is superseded by ``seg-G``. Files are written to a temporary name, fsync'd and renamed, so a
crash leaves either the old or the new state; files of generations above the committed one are ignored
by readers and overwritten by the next writer. Segments are memory-mapped, so opening costs little.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from pisteur.store.segfiles import atomic_save, fsync_dir, gen_files

_NAME = re.compile(r"^(seg|del|base)-(\d{8})(?:\.(vec|ids))?(?:\.npy)?$")
COMPACT_SEGMENTS = 16
COMPACT_DEAD_FRACTION = 0.25


def _gen_files(directory: Path) -> list[tuple[int, str, str | None, Path]]:
    return gen_files(directory, _NAME)


class FlatVectors:
    """Brute-force inner product over memory-mapped float32 segments."""

    def __init__(self, directory: Path, dims: int, generation: int, **_: Any) -> None:
        self.directory = Path(directory)
        self.dims = dims
        self.generation = generation
        self._pending_ids: list[np.ndarray] = []
        self._pending_vecs: list[np.ndarray] = []
        self._pending_del: list[np.ndarray] = []
        self._load()

    def _load(self) -> None:
        files = [f for f in _gen_files(self.directory) if f[0] <= self.generation]
        base = max((g for g, kind, _, _ in files if kind == "base"), default=0)
        segs: dict[int, dict[str, Path]] = {}
        dels: list[np.ndarray] = []
        for g, kind, part, p in files:
            if g < base:
                continue
            if kind == "seg" and part:
                segs.setdefault(g, {})[part] = p
            elif kind == "del":
                dels.append(np.load(p))
        self._segments: list[tuple[np.ndarray, np.ndarray]] = []
        for g in sorted(segs):
            if "vec" in segs[g] and "ids" in segs[g]:
                self._segments.append((np.load(segs[g]["ids"]), np.load(segs[g]["vec"], mmap_mode="r")))
        self._base = base
        self._rebuild_views(np.concatenate(dels) if dels else np.zeros(0, np.int64))

    def _rebuild_views(self, removed: np.ndarray) -> None:
        self._removed = np.unique(removed.astype(np.int64))
        ids = [s[0] for s in self._segments]
        self._ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        self._alive = ~np.isin(self._ids, self._removed) if len(self._removed) else np.ones(len(self._ids), bool)
        self._order = np.argsort(self._ids, kind="stable")

    # -- writing ---------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._pending_ids.append(np.asarray(ids, np.int64))
            self._pending_vecs.append(np.ascontiguousarray(vectors, np.float32))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self._pending_del.append(np.asarray(ids, np.int64))

    def flush(self, generation: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for g, _, _, p in _gen_files(self.directory):  # leftovers of a crashed writer, or superseded files
            if g >= generation or g < self._base:
                p.unlink(missing_ok=True)
        new_ids = np.concatenate(self._pending_ids) if self._pending_ids else np.zeros(0, np.int64)
        new_vecs = (
            np.concatenate(self._pending_vecs) if self._pending_vecs else np.zeros((0, self.dims), np.float32)
        )
        removed = np.concatenate([self._removed, *self._pending_del]) if self._pending_del else self._removed
        dead = int(np.count_nonzero(np.isin(self._ids, removed)))
        compact = len(self._segments) + 1 > COMPACT_SEGMENTS or (
            len(self._ids) and dead / len(self._ids) > COMPACT_DEAD_FRACTION
        )
        tag = f"{generation:08d}"
        if compact:
            keep = ~np.isin(self._ids, removed)
            old = [np.asarray(v) for _, v in self._segments]
            all_vecs = np.concatenate([*old, new_vecs]) if old else new_vecs
            all_ids = np.concatenate([self._ids, new_ids])
            mask = np.concatenate([keep, ~np.isin(new_ids, removed)])
            atomic_save(self.directory / f"seg-{tag}.vec.npy", all_vecs[mask])
            atomic_save(self.directory / f"seg-{tag}.ids.npy", all_ids[mask])
            (self.directory / f"base-{tag}").write_text("compaction\n")
        else:
            if len(new_ids):
                atomic_save(self.directory / f"seg-{tag}.vec.npy", new_vecs)
                atomic_save(self.directory / f"seg-{tag}.ids.npy", new_ids)
            if self._pending_del:
                atomic_save(self.directory / f"del-{tag}.ids.npy", np.concatenate(self._pending_del))
        fsync_dir(self.directory)
        self._pending_ids, self._pending_vecs, self._pending_del = [], [], []
        self.generation = generation
        self._load()

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(np.count_nonzero(self._alive))

    def nbytes(self) -> int:
        return sum(p.stat().st_size for _, _, _, p in _gen_files(self.directory) if p.exists())

    def _scores(self, query: np.ndarray) -> np.ndarray:
        q = np.asarray(query, np.float32).reshape(-1)
        parts = [np.asarray(v) @ q for _, v in self._segments]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = self._scores(query)
        mask = self._alive
        if allowed is not None:
            mask = mask & np.isin(self._ids, allowed)
        idx = np.flatnonzero(mask)
        if not len(idx):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        sub = scores[idx]
        k = min(k, len(idx))
        top = np.argpartition(-sub, k - 1)[:k]
        top = top[np.argsort(-sub[top], kind="stable")]
        return self._ids[idx[top]], sub[top].astype(np.float32)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        sorted_ids = self._ids[self._order]
        pos = np.searchsorted(sorted_ids, ids)
        pos = np.clip(pos, 0, max(len(sorted_ids) - 1, 0))
        if not len(sorted_ids) or np.any(sorted_ids[pos] != ids):
            raise KeyError("some ids have no stored vector")
        flat = self._order[pos]
        out = np.empty((len(ids), self.dims), np.float32)
        offsets = np.cumsum([0] + [len(s[0]) for s in self._segments])
        for j, f in enumerate(flat):
            s = int(np.searchsorted(offsets, f, side="right") - 1)
            out[j] = self._segments[s][1][f - offsets[s]]
        return out
