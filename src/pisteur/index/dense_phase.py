"""Dense phase: vectors for the chunks that have none, best first, committed every few hundred chunks.

Order: conversation turns, summaries, documents and messages first, then thinking, tool outputs last;
newest first within a kind (``StoreWriter.pending_chunks``). Identical texts are embedded once: a batch is
deduplicated by text hash and a hash that already has a vector anywhere in the index reuses it.

Failures: an embedder that cannot run (a server down, a missing extra: ``EmbedderError``, ``OSError``)
stops the pass with a warning; its chunks stay lexically searchable and dense-pending, and the next run
(or the live indexer) continues. An error on one batch is narrowed down to the chunks that cause it; those
stay lexical only, and the warning names their files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pisteur.embed.base import EmbedderError
from pisteur.index.read_phase import Committer
from pisteur.index.report import IndexReport
from pisteur.store.local_writer import PendingChunk, StoreWriter

DENSE_BATCH = 64
WINDOW = 16
OUTAGE = (EmbedderError, OSError, ConnectionError, TimeoutError)
Notify = Callable[..., None]


@dataclass
class DenseOptions:
    batch: int = DENSE_BATCH
    seconds: float | None = None  # stop after this long (the live indexer works in slices)


class DenseStopped(Exception):
    pass


def _embed(embed: Callable[[list[str]], np.ndarray], texts: list[str]) -> np.ndarray:
    try:
        return np.asarray(embed(texts), np.float32)
    except OUTAGE as exc:
        raise DenseStopped(f"{type(exc).__name__}: {str(exc)[:160]}") from exc


def _embed_isolating(embed: Callable[[list[str]], np.ndarray], texts: list[str]
                     ) -> tuple[list[int], np.ndarray | None]:
    """Embed ``texts``; when the batch fails (not an outage), embed one by one: (indexes that failed,
    vectors of the others in order)."""
    try:
        return [], _embed(embed, texts)
    except DenseStopped:
        raise
    except Exception:  # noqa: BLE001 - find which texts break the embedder
        pass
    bad, good = [], []
    for j, t in enumerate(texts):
        try:
            good.append(_embed(embed, [t])[0])
        except DenseStopped:
            raise
        except Exception:  # noqa: BLE001
            bad.append(j)
    return bad, (np.stack(good) if good else None)


def _one_batch(w: StoreWriter, embed: Callable[[list[str]], np.ndarray], items: list[PendingChunk],
               report: IndexReport) -> None:
    by_hash: dict[str, list[PendingChunk]] = {}
    for it in items:
        by_hash.setdefault(it.text_hash, []).append(it)
    vec_of = w.known_vectors(list(by_hash))
    todo = [h for h in by_hash if h not in vec_of]
    bad, vecs = _embed_isolating(embed, [by_hash[h][0].text for h in todo]) if todo else ([], None)
    ok = [h for j, h in enumerate(todo) if j not in set(bad)]
    if vecs is not None:
        vec_of.update(zip(ok, vecs, strict=True))
    report.chunks_embedded += len(ok)
    report.tokens_embedded += sum(by_hash[h][0].tokens for h in ok)
    failed = [it for j in bad for it in by_hash[todo[j]]]
    if failed:
        w.mark_dense_failed([it.id for it in failed])
        for path in dict.fromkeys(it.path for it in failed):
            report.warnings.append((path, "the embedder failed on some chunks: they stay lexical only"))
    done = [it for h, its in by_hash.items() if h in vec_of for it in its]
    if done:
        w.set_vectors([it.id for it in done], np.stack([vec_of[it.text_hash] for it in done]))
    report.chunks_dense += len(done)


def dense_phase(w: StoreWriter, embed: Callable[[list[str]], np.ndarray], report: IndexReport,
                notify: Notify, opts: DenseOptions | None = None) -> None:
    opts = opts or DenseOptions()
    total = w.store.dense_counts()["pending"]
    if total:
        notify("dense_start", chunks=total)
    t0 = time.monotonic()
    commits = Committer(w)
    try:
        window: list[PendingChunk] = []
        while opts.seconds is None or time.monotonic() - t0 < opts.seconds:
            if not window:  # one ordered query per WINDOW batches (sorting the pending set is not free)
                window = w.pending_chunks(opts.batch * WINDOW)
                if not window:
                    break
            items, window = window[: opts.batch], window[opts.batch :]
            _one_batch(w, embed, items, report)
            notify("dense", chunks=len(items))
            commits.maybe()
    except DenseStopped as exc:
        left = w.store.dense_counts()["pending"]
        report.warnings.append(("", f"dense pass stopped ({exc}); {left} chunks stay lexically searchable and "
                                    "get their vectors on the next run"))
    commits.maybe(force=True)  # not on Ctrl-C: the writer rolls the unfinished batch back
