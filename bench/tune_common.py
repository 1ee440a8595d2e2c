"""Shared parts of the tuning benches (bench/tune_*.py): a bench index of a BEIR corpus, its tuning made
from the corpus alone, the tuning's steps as separate folders, and the JSON result file."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from pisteur.embed import load_embedder
from pisteur.embed.cache import CachedEmbedder
from pisteur.evaluate.beir import Dataset
from pisteur.evaluate.index import build_index
from pisteur.store import open_store
from pisteur.tune.artifacts import ADAPTER_FILE, DICT_DIR, TUNING_FILE
from pisteur.tune.pipeline import TuneOptions, tune_index


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def index_of(ds: Dataset, model: str, cache: Path | None) -> tuple[Any, Any, Path]:
    emb = load_embedder(model, workers=1)
    cached = CachedEmbedder(emb, (cache / "embeddings") if cache else None)
    built = build_index(ds, cached, root=cache)
    return emb, cached, built.path


def tune(index: Path, emb: Any, out: Path, opts: TuneOptions | None = None) -> tuple[dict[str, Any], float]:
    store = open_store(index)
    t0 = time.perf_counter()
    report = tune_index(store, emb, out, opts, log=lambda m: print(f"  [{time.perf_counter() - t0:.0f} s] {m}",
                                                                  file=sys.stderr, flush=True))
    store.close()
    return report, time.perf_counter() - t0


def step_folders(folder: Path) -> dict[str, Path | bool]:
    """untuned, calibration only, adapter only, both (the last two only when the adapter was kept)."""
    out: dict[str, Path | bool] = {"untuned": False}
    calib = folder.with_name(folder.name + "-calibration")
    shutil.rmtree(calib, ignore_errors=True)
    calib.mkdir()
    shutil.copy(folder / TUNING_FILE, calib / TUNING_FILE)
    if (folder / DICT_DIR).exists():
        shutil.copytree(folder / DICT_DIR, calib / DICT_DIR)
    out["calibration"] = calib
    if (folder / ADAPTER_FILE).exists():
        adapter = folder.with_name(folder.name + "-adapter")
        shutil.rmtree(adapter, ignore_errors=True)
        adapter.mkdir()
        shutil.copy(folder / ADAPTER_FILE, adapter / ADAPTER_FILE)
        doc = json.loads((folder / TUNING_FILE).read_text())
        (adapter / TUNING_FILE).write_text(json.dumps({**doc, "overrides": {}}))
        out["adapter"] = adapter
        out["calibration+adapter"] = folder
    return out


def write_result(name: str, command: str, results: dict[str, Any]) -> Path:
    from _common import command_line
    from _common import write_result as write

    del command  # recorded as typed, with machine paths as placeholders
    return write(name, command_line(), results)
