"""Graph/cluster ANN (faiss HNSW or IVF) on top of the quantised segments, for indexes a flat scan is too slow.

Manifest config: ``{"index": "hnsw"|"ivf", "precision": ..., "rescore_k": 256, "m": 32, "ef_search": 128,
"nprobe": 32}``. The segments of ``vectors_quant`` stay the source of truth (fine codes for rescoring and
``reconstruct``, the same generation files and crash-safety); the ANN structure is a faiss index over 8-bit
scalar-quantised vectors (``IndexHNSWSQ`` / ``IndexIVFScalarQuantizer``, ~1 byte a dimension in RAM), ID-mapped
with the chunk ids. It is snapshotted per generation as ``ann-G.faiss`` + ``ann-G.ids.npy`` (tmp + fsync +
rename, before SQLite commits); a reader at generation G loads the newest snapshot <= G and reconciles it
with the segments by id (adds what is missing, drops what is gone), so it never sees a later generation.

Deletions: IVF removes ids from its lists; HNSW cannot remove, so removed ids are masked with an
``IDSelector`` and the graph is rebuilt once a quarter of it is dead. IVF is (re)trained on a sample of up to
100k vectors when first filled, and again when the index has grown 16x since.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from pisteur.store import quant
from pisteur.store.shards import single_thread_faiss
from pisteur.store.vectors import register_vector_index
from pisteur.store.vectors_quant import EXACT_SUBSET_MAX, QuantVectors, atomic_save, fsync_dir, gen_files

_ANN = re.compile(r"^(ann)-(\d{8})\.(faiss|ids)(?:\.npy)?$")
REBUILD_DEAD_FRACTION = 0.25
RETRAIN_GROWTH = 16


def _faiss() -> Any:
    import faiss

    return faiss


class FaissVectors(QuantVectors):
    def __init__(self, directory: Path, dims: int, generation: int, *, kind: str = "hnsw", m: int = 32,
                 ef_search: int = 128, ef_construction: int = 80, nprobe: int = 32, **cfg: Any) -> None:
        self.kind = kind
        self.m, self.ef_search, self.ef_construction, self.nprobe = m, ef_search, ef_construction, nprobe
        cfg.pop("search", None)
        single_thread_faiss()
        super().__init__(directory, dims, generation, search="flat", **cfg)

    # -- ANN structure -----------------------------------------------------------------------------
    def _new_index(self, train: np.ndarray) -> Any:
        faiss = _faiss()
        qt = faiss.ScalarQuantizer.QT_8bit
        if self.kind == "hnsw":
            inner = faiss.IndexHNSWSQ(self.dims, qt, self.m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = self.ef_construction
            index = faiss.IndexIDMap2(inner)
        else:
            nlist = int(np.clip(4 * np.sqrt(max(len(train), 1)), 1, max(1, len(train) // 39)))
            quantizer = faiss.IndexFlatIP(self.dims)
            index = faiss.IndexIVFScalarQuantizer(quantizer, self.dims, nlist, qt, faiss.METRIC_INNER_PRODUCT)
            index.own_fields = True
            quantizer.this.disown()
        index.train(np.ascontiguousarray(train, np.float32))
        return index

    def _sample(self, vecs: np.ndarray, limit: int = 100_000) -> np.ndarray:
        if len(vecs) <= limit:
            return vecs
        rng = np.random.default_rng(0)
        return vecs[np.sort(rng.choice(len(vecs), limit, replace=False))]

    def _live_vectors(self, rows: np.ndarray, block: int = 100_000) -> Any:
        for i in range(0, len(rows), block):
            r = rows[i : i + block]
            yield self._ids[r], self.reconstruct(self._ids[r])

    def _load(self) -> None:
        super()._load()
        self._ann = None
        self._ann_gen = 0
        self._ann_trained_on = 0
        snaps = [f for f in gen_files(self.directory, _ANN) if f[0] <= self.generation]
        gens = sorted({g for g, _, part, _ in snaps if part == "ids"} & {g for g, _, part, _ in snaps
                                                                         if part == "faiss"})
        live_rows = np.flatnonzero(self._alive)
        if gens:
            g = gens[-1]
            self._ann = _faiss().read_index(str(self.directory / f"ann-{g:08d}.faiss"))
            have = np.load(self.directory / f"ann-{g:08d}.ids.npy")
            self._ann_gen = g
            self._ann_trained_on = int(have[0]) if len(have) else 0
            have = have[1:]
            self._ann_ids = have
            missing = live_rows[~np.isin(self._ids[live_rows], have)]
            gone = have[~np.isin(have, self._ids[live_rows])]
            self._reconcile(missing, gone)
        elif len(live_rows):
            self._build(live_rows)

    def _build(self, rows: np.ndarray) -> None:
        sample_rows = rows if len(rows) <= 100_000 else np.sort(
            np.random.default_rng(0).choice(rows, 100_000, replace=False))
        self._ann = self._new_index(self.reconstruct(self._ids[sample_rows]))
        self._ann_trained_on = len(rows)
        self._ann_ids = np.zeros(0, np.int64)
        self._reconcile(rows, np.zeros(0, np.int64))

    def _reconcile(self, missing_rows: np.ndarray, gone: np.ndarray) -> None:
        ann = self._ann
        if ann is None:
            raise RuntimeError("the approximate index is neither loaded nor built")
        for ids, vecs in self._live_vectors(missing_rows):
            ann.add_with_ids(np.ascontiguousarray(vecs, np.float32), ids)
        self._ann_ids = np.union1d(self._ann_ids, self._ids[missing_rows])
        if len(gone) and self.kind == "ivf":
            ann.remove_ids(_faiss().IDSelectorBatch(np.ascontiguousarray(gone, np.int64)))
            self._ann_ids = np.setdiff1d(self._ann_ids, gone)
        self._ann_dead = np.setdiff1d(self._ann_ids, self._ids[self._alive]) if self.kind == "hnsw" else \
            np.zeros(0, np.int64)

    def flush(self, generation: int) -> None:
        old_ann_gen = self._ann_gen
        for g, _, _, p in gen_files(self.directory, _ANN):  # crashed leftovers
            if g >= generation:
                p.unlink(missing_ok=True)
        super().flush(generation)  # writes segments, reloads (and reconciles the ANN in memory)
        live = int(np.count_nonzero(self._alive))
        rebuild = (self.kind == "hnsw" and len(self._ann_dead) > REBUILD_DEAD_FRACTION * max(live, 1)) or (
            self.kind == "ivf" and live > RETRAIN_GROWTH * max(self._ann_trained_on, 1))
        if rebuild and live:
            self._build(np.flatnonzero(self._alive))
        if self._ann is not None and (self._ann_gen != generation):
            tag = f"{generation:08d}"
            tmp = self.directory / f"ann-{tag}.faiss.tmp"
            _faiss().write_index(self._ann, str(tmp))
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, self.directory / f"ann-{tag}.faiss")
            atomic_save(self.directory / f"ann-{tag}.ids.npy",
                        np.concatenate([[self._ann_trained_on], self._ann_ids]).astype(np.int64))
            fsync_dir(self.directory)
            self._ann_gen = generation
        for g, _, _, p in gen_files(self.directory, _ANN):  # snapshots no reader at >= this generation needs
            if g < min(old_ann_gen, self._ann_gen):
                p.unlink(missing_ok=True)

    def nbytes(self) -> int:
        return super().nbytes() + sum(p.stat().st_size for g, _, _, p in gen_files(self.directory, _ANN)
                                      if g == self._ann_gen and p.exists())

    def resident_bytes(self) -> int:
        ann = self._ann
        n = ann.ntotal if ann is not None else 0
        graph = n * self.m * 2 * 4 if self.kind == "hnsw" else n * 8
        return super().resident_bytes() + n * self.dims + graph

    # -- search ------------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(query, np.float32).reshape(-1)
        if k <= 0 or not len(self) or self._ann is None:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if allowed is not None and len(self._rows_of(allowed)) <= EXACT_SUBSET_MAX:
            return super().search(q, k, allowed)  # exact over the allowed rows
        faiss = _faiss()
        r = max(self.rescore_k, k)
        sel = inner = None  # keep ``inner`` referenced until the search is done
        if allowed is not None:
            sel = faiss.IDSelectorBatch(np.ascontiguousarray(np.setdiff1d(allowed, self._ann_dead), np.int64))
        elif len(self._ann_dead):
            inner = faiss.IDSelectorBatch(np.ascontiguousarray(self._ann_dead, np.int64))
            sel = faiss.IDSelectorNot(inner)
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, r), sel=sel)
        else:
            params = faiss.SearchParametersIVF(nprobe=self.nprobe, sel=sel)
        _, ids = self._ann.search(q[None, :], r, params=params)
        ids = ids[0][ids[0] >= 0]
        del sel, inner
        rows = self._rows_of(ids)  # rescored from the fine codes (bits when ``rescore: none``)
        return quant.top_k(self._ids[rows], self._score_rows(rows, q), k)


@register_vector_index("hnsw")
def _open_hnsw(directory: Path, dims: int, generation: int, **cfg: Any) -> FaissVectors:
    return FaissVectors(directory, dims, generation, kind="hnsw", **cfg)


@register_vector_index("ivf")
def _open_ivf(directory: Path, dims: int, generation: int, **cfg: Any) -> FaissVectors:
    return FaissVectors(directory, dims, generation, kind="ivf", **cfg)
