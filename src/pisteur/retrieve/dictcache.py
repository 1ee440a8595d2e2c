"""An on-disk cache of the merged dictionaries' matching index, read lazily.

Building the index analyses every form of every dictionary (~10,000 rules: about 1 s on a busy 2-core
laptop), which a cold ``pisteur search`` should not pay each time. The cache is plain JSON (never pickle: a file
in the user's cache directory must not be able to run code), split into shards by the first word of a form's
matching key, so a query loads only the shards of its own words (a few KB) instead of the whole index.

Layout: ``<cache>/dictionaries/<key>/meta.json`` (the dictionaries' names, weights, profiles; the longest key)
and ``shard-NN.json`` (``{"word word": [[target, dictionary, weight, trigger, kind], ...]}``). The key covers
the analyser version, the shipped files' names, sizes and modification times and the user folder's stamp.
A shard that cannot be read makes the caller rebuild the index in memory (nothing is lost but time).
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pisteur.retrieve.lexicon import Dictionaries, _Dict, _Rule

FORMAT = 1
SHARDS = 64


def shard_of(word: str) -> int:
    return zlib.crc32(word.encode("utf-8")) % SHARDS


class ShardedIndex(Mapping[tuple[str, ...], list[_Rule]]):
    """The matching index of ``Dictionaries``, loading one shard file the first time one of its keys is
    asked for; ``fallback`` builds the whole index in memory if a shard is unreadable."""

    def __init__(self, folder: Path, count: int, fallback: Callable[[], Dictionaries]) -> None:
        self.folder = folder
        self.count = count
        self._fallback = fallback
        self._shards: dict[int, dict[str, list[Any]]] = {}  # raw rows per shard, keys "word word"
        self._rules: dict[tuple[str, ...], list[_Rule]] = {}  # rows turned into rules on first use

    def _shard(self, n: int) -> dict[str, list[Any]]:
        got = self._shards.get(n)
        if got is None:
            try:
                got = json.loads((self.folder / f"shard-{n:02d}.json").read_text("utf-8"))
                if not isinstance(got, dict):
                    raise ValueError("not a shard")
            except (OSError, ValueError):
                got = {" ".join(k): v for k, v in self._fallback().index.items() if shard_of(k[0]) == n}
            self._shards[n] = got
        return got

    def __getitem__(self, key: tuple[str, ...]) -> list[_Rule]:
        if key in self._rules:
            return self._rules[key]
        if not key:
            raise KeyError(key)
        rows = self._shard(shard_of(key[0]))[" ".join(key)]
        rules = [r if isinstance(r, _Rule) else _Rule(*r) for r in rows]
        self._rules[key] = rules
        return rules

    def get(self, key: tuple[str, ...], default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        for n in range(SHARDS):
            yield from (tuple(k.split(" ")) for k in self._shard(n))

    def __len__(self) -> int:
        return self.count


def write(folder: Path, dicts: Dictionaries) -> None:
    """Write ``dicts``' index under ``folder`` (atomically: a temporary folder renamed; a concurrent writer
    that finished first wins)."""
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shards: list[dict[str, list[list[Any]]]] = [{} for _ in range(SHARDS)]
    for key, rules in dicts.index.items():
        shards[shard_of(key[0])][" ".join(key)] = [[r.target, r.dictionary, r.weight, r.trigger, r.kind] for r in rules]
    for n, shard in enumerate(shards):
        (tmp / f"shard-{n:02d}.json").write_text(json.dumps(shard, ensure_ascii=False), "utf-8")
    meta = {
        "format": FORMAT,
        "max_len": dicts.max_len,
        "count": len(dicts.index),
        "dictionaries": [
            {"name": d.name, "weight": d.weight, "description": d.description, "sources": d.sources,
             "profiles": list(d.profiles) if d.profiles is not None else None}
            for d in dicts.dicts.values()
        ],
    }
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    try:
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def read(folder: Path, fallback: Callable[[], Dictionaries]) -> Dictionaries | None:
    """The cached dictionaries under ``folder`` (their index read lazily), or None when there is none."""
    try:
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
        if meta.get("format") != FORMAT:
            return None
        dicts = [
            _Dict(name=m["name"], weight=dict(m["weight"]), description=m["description"], sources=list(m["sources"]),
                  profiles=tuple(m["profiles"]) if m["profiles"] is not None else None)
            for m in meta["dictionaries"]
        ]
        return Dictionaries.prebuilt(dicts, ShardedIndex(folder, int(meta["count"]), fallback), int(meta["max_len"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


__all__ = ["SHARDS", "ShardedIndex", "read", "shard_of", "write"]
