"""Expansion dictionaries: loading, merging and indexing the TOML files (format in docs/dictionaries.md).

Shipped dictionaries live in ``dictionaries/*.toml``; user dictionaries come from ``$PISTEUR_DICTIONARIES`` (a
folder) or ``platformdirs.user_config_dir("pisteur")/dictionaries`` plus any paths passed explicitly, and merge
over the shipped ones (same dictionary ``name``: entries are added to the shipped ones; ``replace = true`` on an
entry or ``disable = [...]`` at the top level overrides). A dictionary may declare the source profiles it fits
(``profiles = ["messages", ...]``, see ``profiles.py``); without the key it applies to every profile.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pisteur.text.analysis import stem, surface_tokens

TABLES = ("synonyms", "abbreviations", "concepts")
DEFAULT_WEIGHT = {"synonyms": 0.8, "abbreviations": 0.8, "concepts": 0.6}
MAX_KEY_LEN = 8


def user_dictionary_dir() -> Path:
    env = os.environ.get("PISTEUR_DICTIONARIES")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("pisteur")) / "dictionaries"


@lru_cache(maxsize=65_536)
def _key(text: str) -> tuple[str, ...]:
    """Matching key of a form: stemmed surface tokens ("T'inquiètes" → ("t", "inquiet"))."""
    return tuple(match_key(t) for t in surface_tokens(text))


def match_key(token: str) -> str:
    """A surface token as dictionary forms match it: Snowball-stemmed, except tokens of three letters or
    fewer, matched as typed: stemming them mostly drops a final vowel or "s" and merges unrelated short forms
    ("pre" of "pre-commit" would match the acronym "PR", "ds" the letter "d")."""
    return token if len(token) <= 3 else stem(token)


@dataclass
class _Dict:
    name: str
    weight: dict[str, float]
    description: str = ""
    # table -> {key text: list of values}
    tables: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {t: {} for t in TABLES})
    sources: list[str] = field(default_factory=list)
    profiles: tuple[str, ...] | None = None  # source profiles it fits (None: every profile)


@dataclass(frozen=True)
class _Rule:
    target: str  # text to add
    dictionary: str
    weight: float
    trigger: str  # the entry's form that matched (for explain)
    kind: str = "synonyms"  # the table: synonyms | abbreviations | concepts


class Dictionaries:
    """A merged set of dictionaries, indexed by matching key."""

    def __init__(self, dicts: Iterable[_Dict]):
        self.dicts: dict[str, _Dict] = {d.name: d for d in dicts}
        self.index: Mapping[tuple[str, ...], list[_Rule]] = {}
        self.max_len = 1
        for d in self.dicts.values():
            for table in TABLES:
                w = d.weight[table]
                for key, values in d.tables[table].items():
                    forms = [k for k in key.split("|") if k.strip()]
                    if table == "synonyms":
                        clique = list(dict.fromkeys(forms + values))
                        for f in clique:
                            self._add(f, [v for v in clique if v != f], d.name, w, table)
                    else:
                        for f in forms:
                            self._add(f, values, d.name, w, table)
                        if table == "abbreviations":
                            for v in values:
                                self._add(v, forms, d.name, w, table)

    def _add(self, form: str, targets: Sequence[str], dictionary: str, weight: float, kind: str) -> None:
        k = _key(form)
        if not k or len(k) > MAX_KEY_LEN or (len(k) == 1 and len(k[0]) < 2):
            return  # empty, too long, or one letter ("a+" → "a", "n°" → "n"): would fire on every "à"
        self.max_len = max(self.max_len, len(k))
        assert isinstance(self.index, dict)  # being built
        rules = self.index.setdefault(k, [])
        seen = {(r.target, r.dictionary) for r in rules}
        for t in targets:
            if (t, dictionary) not in seen and _key(t) != k:
                rules.append(_Rule(t, dictionary, weight, form, kind))
                seen.add((t, dictionary))

    @classmethod
    def prebuilt(
        cls, dicts: Iterable[_Dict], index: Mapping[tuple[str, ...], list[_Rule]], max_len: int
    ) -> Dictionaries:
        """Dictionaries whose matching index was built before (``dictcache``): nothing is analysed."""
        out = cls(())
        out.dicts = {d.name: d for d in dicts}
        out.index, out.max_len = index, max_len
        return out

    def names(self) -> list[str]:
        return list(self.dicts)

    def fits(self, dictionary: str, profile: str | None) -> bool:
        """Whether ``dictionary`` applies to source ``profile`` (None: any profile)."""
        if profile is None:
            return True
        d = self.dicts.get(dictionary)
        return d is None or d.profiles is None or profile in d.profiles

    def __len__(self) -> int:
        return len(self.index)


class DictionaryError(ValueError):
    """A dictionary file that cannot be read; the message names the file."""


def _read_toml(path: Path | Any, name_default: str) -> dict[str, Any]:
    import tomllib  # only when dictionaries are (re)built: a cached search does not parse TOML

    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise DictionaryError(f"dictionary {path}: {e}") from e
    data.setdefault("name", name_default)
    for table in TABLES:
        if not isinstance(data.get(table, {}), dict):
            raise DictionaryError(f"dictionary {path}: [{table}] must be a table")
    return data


def _merge(into: dict[str, _Dict], data: dict[str, Any], source: str) -> None:
    name = str(data["name"])
    d = into.get(name)
    if d is None:
        d = into[name] = _Dict(name=name, weight=dict(DEFAULT_WEIGHT))
    d.sources.append(source)
    if "description" in data:
        d.description = str(data["description"])
    if "profiles" in data:
        d.profiles = _profiles(data["profiles"], source)
    w = data.get("weight")
    if isinstance(w, int | float):
        d.weight = {t: float(w) for t in TABLES}
    elif isinstance(w, dict):
        d.weight.update({t: float(v) for t, v in w.items() if t in TABLES})
    for key in data.get("disable", []):
        for table in TABLES:
            d.tables[table].pop(key, None)
    for table in TABLES:
        for key, value in data.get(table, {}).items():
            if isinstance(value, dict):
                values, replace = list(value.get("to", [])), bool(value.get("replace", False))
            else:
                values, replace = [value] if isinstance(value, str) else list(value), False
            values = [str(v) for v in values]
            cur = d.tables[table].get(key)
            if cur is None or replace:
                d.tables[table][key] = values
            else:
                cur.extend(v for v in values if v not in cur)


def _profiles(value: Any, source: str) -> tuple[str, ...]:
    from pisteur.retrieve.profiles import PROFILE_NAMES

    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or any(n not in PROFILE_NAMES for n in names):
        raise DictionaryError(f"dictionary {source}: profiles must be a list of {', '.join(PROFILE_NAMES)}")
    return tuple(names)


def _shipped_files() -> list[Any]:
    root = resources.files("pisteur.retrieve.dictionaries")
    return sorted((p for p in root.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name)


def load_dictionaries(
    paths: Sequence[str | Path] = (), *, shipped: bool = True, user: bool = True
) -> Dictionaries:
    """Shipped dictionaries, then the user folder's ``*.toml``, then ``paths`` (files or folders), merged."""
    merged: dict[str, _Dict] = {}
    if shipped:
        for p in _shipped_files():
            _merge(merged, _read_toml(p, p.name.removesuffix(".toml")), f"shipped:{p.name}")
    extra: list[Path] = []
    if user:
        udir = user_dictionary_dir()
        if udir.is_dir():
            extra.extend(sorted(udir.glob("*.toml")))
    for p in map(Path, paths):
        extra.extend(sorted(p.glob("*.toml")) if p.is_dir() else [p])
    for p in extra:
        _merge(merged, _read_toml(p, p.stem), str(p))
    return Dictionaries(merged.values())


@lru_cache(maxsize=4)
def _default(user_dir: str, stamp: tuple[tuple[str, int], ...]) -> Dictionaries:
    """Merged dictionaries through the on-disk cache (``dictcache``: JSON shards read lazily). The key covers
    the analyser version, the shipped files' names, sizes and times and the user folder's stamp, so any
    change rebuilds it."""
    import hashlib

    from pisteur.config import cache_dir
    from pisteur.retrieve import dictcache
    from pisteur.text.analysis import ANALYZER_VERSION

    h = hashlib.blake2b(digest_size=12)
    h.update(f"{dictcache.FORMAT}|{ANALYZER_VERSION}|{user_dir}|{stamp}".encode())
    for f in _shipped_files():
        st = Path(str(f)).stat()
        h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    folder = cache_dir() / "dictionaries" / h.hexdigest()
    cached = dictcache.read(folder, load_dictionaries)
    if cached is not None:
        return cached
    d = load_dictionaries()
    try:
        dictcache.write(folder, d)
    except OSError:
        pass  # a read-only cache dir only costs speed
    return d


def _stamp(folder: Path) -> tuple[tuple[str, int], ...]:
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.toml")))
    except OSError:
        return ()


def default_dictionaries() -> Dictionaries:
    """Shipped + user dictionaries, reloaded when a file of the user folder changes (long-lived servers)."""
    udir = user_dictionary_dir()
    return _default(str(udir), _stamp(udir))
