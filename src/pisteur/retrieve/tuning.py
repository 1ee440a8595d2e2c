"""What tuning (``pisteur eval tune``) leaves in an index directory, and how a search reads it back.

- ``tuning.json``: ``{"overrides": {option: value}, ...}``: search-option overrides chosen by calibration,
  under the pipeline's own option names (a flat mapping), applied under any option the caller passes;
- ``adapter.npz``: a residual map on query vectors, ``q' = normalize(q + W q)`` (see ``tune/adapter.py``).

Paths inside ``overrides["dictionaries"]`` are relative to the folder holding ``tuning.json``. This module
imports nothing from the rest of pisteur; the tuning code (``pisteur.tune``) writes these files.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TUNING_FILE = "tuning.json"
ADAPTER_FILE = "adapter.npz"
DICT_DIR = "tuning-dictionaries"


@dataclass
class Adapter:
    """``q' = normalize(q + q W^T)``; ``W`` is (dims, dims), zero = identity."""

    w: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def dims(self) -> int:
        return int(self.w.shape[0])

    def apply(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, np.float32)
        single = q.ndim == 1
        qs = q.reshape(1, -1) if single else q
        if qs.shape[1] != self.dims:  # another model's vectors: leave them alone
            return q
        out = qs + qs @ self.w.T
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        out = out.astype(np.float32)
        return out[0] if single else out

    def save(self, path: Path) -> None:
        np.savez(path, w=self.w.astype(np.float32), info=np.asarray(json.dumps(self.info)))

    @classmethod
    def load(cls, path: Path) -> Adapter:
        with np.load(path, allow_pickle=False) as z:
            info = json.loads(str(z["info"])) if "info" in z else {}
            return cls(np.asarray(z["w"], np.float32), info)


@dataclass
class Tuning:
    folder: Path
    overrides: dict[str, Any]
    adapter: Adapter | None
    info: dict[str, Any] = field(default_factory=dict)


def _stamp(folder: Path) -> tuple[int, int]:
    out = []
    for name in (TUNING_FILE, ADAPTER_FILE):
        try:
            out.append((folder / name).stat().st_mtime_ns)
        except OSError:
            out.append(0)
    return out[0], out[1]


_CACHE: dict[str, tuple[tuple[int, int], Tuning | None]] = {}
_LOCK = threading.Lock()


def read_tuning(folder: Path | str) -> Tuning | None:
    """The tuning stored in ``folder`` (None when there is none). Re-read when the files change."""
    folder = Path(folder)
    stamp = _stamp(folder)
    if stamp == (0, 0):
        return None
    with _LOCK:
        hit = _CACHE.get(str(folder))
        if hit is not None and hit[0] == stamp:
            return hit[1]
    doc: dict[str, Any] = {}
    if stamp[0]:
        try:
            doc = json.loads((folder / TUNING_FILE).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{folder / TUNING_FILE}: cannot be read ({exc})") from exc
    overrides = dict(doc.get("overrides") or {})
    if overrides.get("dictionaries"):
        overrides["dictionaries"] = [str(folder / p) for p in overrides["dictionaries"]]
    adapter = None
    if stamp[1]:
        try:
            adapter = Adapter.load(folder / ADAPTER_FILE)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{folder / ADAPTER_FILE}: cannot be read ({exc})") from exc
    tuning = Tuning(folder, overrides, adapter, {k: v for k, v in doc.items() if k != "overrides"})
    with _LOCK:
        _CACHE[str(folder)] = (stamp, tuning)
    return tuning


def tuning_for(store: Any, choice: Any) -> Tuning | None:
    """The tuning a search uses: ``choice`` False/None = none, True = the index directory's, a path = that
    folder's (a tuning made elsewhere, e.g. by ``pisteur bench --tune``)."""
    if choice is False or choice is None or choice in ("none", "off", "no"):
        return None
    if choice is True:
        folder = getattr(store, "dir", None)
        return read_tuning(folder) if folder is not None else None
    return read_tuning(Path(str(choice)))


def tuned_options(opts: Any, defaults: Any, overrides: dict[str, Any],
                  explicit: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """Typed options (``SearchOptions``) with a tuning's ``overrides`` applied under what the caller asked for:
    an option the caller named in ``explicit`` (the search's keyword overrides) or changed from the product
    default wins; tuned weights fill the lists the caller's ``weights`` leave out. Returns (options, the
    overrides that took effect)."""
    named = {k: v for k, v in (explicit or {}).items() if v is not None}
    used: dict[str, Any] = {}
    for name, value in overrides.items():
        if not hasattr(opts, name):
            continue
        if name == "weights" and isinstance(value, dict):
            mine, base = opts.weights.as_dict(), defaults.weights.as_dict()
            given = set(named.get("weights") or ())
            w = {k: v for k, v in value.items() if k in mine and k not in given and mine[k] == base[k]}
            if w:
                used["weights"] = w
        elif name not in named and getattr(opts, name) == getattr(defaults, name):
            used[name] = value
    return (opts.merged(used) if used else opts), used


class AdaptedEmbedder:
    """An embedder whose query vectors go through a tuning's adapter (documents are untouched)."""

    def __init__(self, inner: Any, adapter: Adapter) -> None:
        self.inner, self.adapter = inner, adapter

    def embed_queries(self, texts: Any) -> np.ndarray:
        return self.adapter.apply(np.asarray(self.inner.embed_queries(texts), np.float32))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
