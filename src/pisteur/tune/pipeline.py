"""The whole tuning of one index: synthetic set → calibration → adapter, written to a folder (the index
directory by default: ``tuning.json``, ``adapter.npz``, ``tuning-dictionaries/``).

Calibration runs on the raw query vectors: an adapter trained on the same train queries fits them better
than unseen ones, and would make calibration over-trust the dense list."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pisteur.tune import adapter as ad
from pisteur.tune.artifacts import ADAPTER_FILE, DICT_DIR, TUNING_FILE
from pisteur.tune.calibrate import CalibOptions, calibrate, write_disabled
from pisteur.tune.judge import Judge
from pisteur.tune.synth import MakeOptions, SynthSet, make_set, read_docs


@dataclass
class TuneOptions:
    make: MakeOptions = field(default_factory=MakeOptions)
    calib: CalibOptions = field(default_factory=CalibOptions)
    adapter: ad.AdapterOptions = field(default_factory=ad.AdapterOptions)
    # the adapter is opt-in: it learns the synthetic queries' style as much as the corpus (an adapter trained
    # on one corpus lifts another corpus's synthetic queries too) and cost real questions with e5 (docs/tuning.md)
    steps: tuple[str, ...] = ("calibrate",)


def dense_ndcg(store: Any, queries: list[Any], vectors: dict[str, np.ndarray], adapter: Any = None) -> np.ndarray:
    """nDCG@10 of the dense list alone (document level) for each query, optionally through an adapter."""
    from pisteur.evaluate.metrics import ndcg_at
    from pisteur.tune.synth import doc_of

    out = np.zeros(len(queries))
    for i, q in enumerate(queries):
        if q.qid not in vectors:
            continue
        v = adapter.apply(vectors[q.qid]) if adapter is not None else vectors[q.qid]
        hits = store.get([i for i, _ in store.dense_search(v, 30)])
        ranking = list(dict.fromkeys(doc_of(h) for h in hits))
        out[i] = ndcg_at(ranking, {q.doc_id: 1}, 10)
    return out


def tune_index(store: Any, embedder: Any, out: Path, opts: TuneOptions | None = None,
               synth: SynthSet | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Tune ``store`` and write the result to ``out``; returns the report (also in ``tuning.json``)."""
    opts = opts or TuneOptions()
    say = log or (lambda _m: None)
    t0 = time.perf_counter()
    if synth is None:
        synth = make_set(store, embedder, opts.make, progress=say)
    synth.ensure_vectors(embedder)
    say(f"synthetic set: {synth.summary()}")
    train, test = synth.split("train"), synth.split("test")
    report: dict[str, Any] = {"model": store.manifest().get("model", {}).get("spec"), "set": synth.summary()}
    out.mkdir(parents=True, exist_ok=True)
    overrides: dict[str, Any] = {}
    if "calibrate" not in opts.steps and (out / TUNING_FILE).exists():  # only the adapter: keep the calibration
        old = json.loads((out / TUNING_FILE).read_text("utf-8"))
        overrides = old.get("overrides") or {}
        if "calibration" in old:
            report["calibration"] = old["calibration"]
    for stale in (TUNING_FILE, ADAPTER_FILE):
        (out / stale).unlink(missing_ok=True)
    vectors = synth.vectors
    if "calibrate" in opts.steps and train:
        cal = calibrate(store, embedder, train, test, vectors, opts.calib, progress=say)
        report["calibration"] = cal.to_json()
        overrides = cal.overrides
        if cal.disabled:
            write_disabled(out / DICT_DIR, cal.disabled)
        elif (out / DICT_DIR).exists():
            shutil.rmtree(out / DICT_DIR)
        say(f"calibration: held-out nDCG@10 {cal.test_before:.4f} -> {cal.test_after:.4f} "
            f"({'kept' if cal.kept else 'not kept'}: {overrides})")
    if "adapter" in opts.steps and train:
        _, owner = read_docs(store)
        triples = ad.mine(store, train, vectors, owner, opts.adapter.hard_negatives)
        adapter, info = ad.train(triples, opts.adapter, progress=say)
        judge = Judge([q.kind for q in test], opts.calib.kinds)
        b, a = dense_ndcg(store, test, vectors), dense_ndcg(store, test, vectors, adapter)
        before, after, kept = judge.score(b), judge.score(a), judge.holds(a, b)
        info.update({"test_dense_before": round(before, 4), "test_dense_after": round(after, 4), "kept": kept,
                     "kinds": {k: [round(v, 4), round(judge.by_kind(a)[k], 4)] for k, v in judge.by_kind(b).items()}})
        report["adapter"] = info
        say(f"adapter: held-out dense nDCG@10 {before:.4f} -> {after:.4f} ({'kept' if kept else 'not kept'})")
        if kept:
            adapter.save(out / ADAPTER_FILE)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    (out / TUNING_FILE).write_text(json.dumps({"overrides": overrides, **report}, ensure_ascii=False, indent=1),
                                   encoding="utf-8")
    return report
