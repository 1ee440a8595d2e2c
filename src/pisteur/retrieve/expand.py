"""Query expansion from French dictionaries: SMS/chat forms, police and administrative acronyms, concepts.

Dictionaries are TOML files (format in docs/dictionaries.md). Each has up to three tables:

- ``[synonyms]``: ``"rendez-vous" = ["rdv", "rv"]``: every form finds every other (a clique);
- ``[abbreviations]``: ``gav = ["garde à vue", "gendarme adjoint volontaire"]``: the key finds each
  value and each value finds the key, the values do not find each other;
- ``[concepts]``: ``"insulte|injure|outrage" = ["connard", "nique la police", ...]``: one way, key → values.

Keys and values are matched on their surface form (folded, lowercase, elided pronouns and hyphens split)
then Snowball-stemmed, so "T’inquiète pas" matches the key "t'inquiète", "désolée" matches "désolé" and
"insultes" matches "insulte". The longest key wins at each position of the query.

Shipped dictionaries live beside this module (``dictionaries/*.toml``); user dictionaries come from
``$PISTEUR_DICTIONARIES`` (a folder) or ``platformdirs.user_config_dir("pisteur")/dictionaries`` plus any
paths passed explicitly, and merge over the shipped ones (same dictionary ``name``: entries are added to the
shipped ones; ``replace = true`` on an entry or ``disable = [...]`` at the top level overrides).
"""

from __future__ import annotations

import os
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs

from pisteur.retrieve.analysis import analyze, analyze_heads, analyze_query, stem, surface_spans, surface_tokens

__all__ = [
    "Dictionaries",
    "DictionaryError",
    "Expansion",
    "Phrase",
    "default_dictionaries",
    "expand_query",
    "load_dictionaries",
    "user_dictionary_dir",
]

TABLES = ("synonyms", "abbreviations", "concepts")
DEFAULT_WEIGHT = {"synonyms": 0.8, "abbreviations": 0.8, "concepts": 0.6}
PHRASE_TERM_FACTOR = 0.5  # single terms taken out of a multi-word expansion count for less
MAX_KEY_LEN = 8


def user_dictionary_dir() -> Path:
    env = os.environ.get("PISTEUR_DICTIONARIES")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("pisteur")) / "dictionaries"


@lru_cache(maxsize=65_536)
def _key(text: str) -> tuple[str, ...]:
    """Matching key of a form: stemmed surface tokens ("T'inquiètes" → ("t", "inquiet"))."""
    return tuple(stem(t) for t in surface_tokens(text))


@dataclass
class _Dict:
    name: str
    weight: dict[str, float]
    description: str = ""
    # table -> {key text: list of values}
    tables: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {t: {} for t in TABLES})
    sources: list[str] = field(default_factory=list)


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
        self.index: dict[tuple[str, ...], list[_Rule]] = {}
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
        rules = self.index.setdefault(k, [])
        seen = {(r.target, r.dictionary) for r in rules}
        for t in targets:
            if (t, dictionary) not in seen and _key(t) != k:
                rules.append(_Rule(t, dictionary, weight, form, kind))
                seen.add((t, dictionary))

    def names(self) -> list[str]:
        return list(self.dicts)

    def __len__(self) -> int:
        return len(self.index)


class DictionaryError(ValueError):
    """A dictionary file that cannot be read; the message names the file."""


def _read_toml(path: Path | Any, name_default: str) -> dict[str, Any]:
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
    """Merged dictionaries, through a JSON file in the cache dir: analysing every form of every dictionary
    costs ~0.2 s, which a cold ``pisteur search`` should not pay each time. The key covers the shipped
    files' bytes, the user folder's stamp and the analyser version, so any change rebuilds it. JSON, not
    pickle: a file in a user-writable cache dir must never be able to run code when loaded."""
    import hashlib
    import json
    import os

    from pisteur.config import cache_dir
    from pisteur.retrieve.analysis import ANALYZER_VERSION

    h = hashlib.blake2b(digest_size=12)
    h.update(f"{ANALYZER_VERSION}|{user_dir}|{stamp}".encode())
    for f in _shipped_files():
        h.update(f.name.encode())
        h.update(f.read_bytes())
    path = cache_dir() / "dictionaries" / f"{h.hexdigest()}.json"
    try:
        return _from_cache(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    d = load_dictionaries()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_to_cache(d), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache dir only costs speed
    return d


def _to_cache(d: Dictionaries) -> dict[str, Any]:
    return {"dicts": [vars(x) for x in d.dicts.values()], "max_len": d.max_len,
            "index": [[list(k), [[r.target, r.dictionary, r.weight, r.trigger, r.kind] for r in rules]]
                      for k, rules in d.index.items()]}


def _from_cache(data: dict[str, Any]) -> Dictionaries:
    d = Dictionaries.__new__(Dictionaries)
    d.dicts = {x["name"]: _Dict(**x) for x in data["dicts"]}
    d.index = {tuple(k): [_Rule(str(t), str(n), float(w), str(g), str(kd)) for t, n, w, g, kd in rules]
               for k, rules in data["index"]}
    d.max_len = int(data["max_len"])
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


@dataclass
class Phrase:
    text: str
    terms: list[str]  # analysed terms in order, as stored in the lexical column (for phrase/NEAR queries)
    weight: float
    origin: str


@dataclass
class Expansion:
    original: str
    terms: list[tuple[str, float, str]]  # (analysed term, weight, origin): origin "query" or a dictionary
    phrases: list[Phrase]
    # {"from": words of the query, "form": the dictionary form they matched, "to": [...], "dictionary": name}
    applied: list[dict[str, Any]]
    # (char start, char end, targets) of the matched spans of the (NFC) query, for dense_queries
    _spans: list[tuple[int, int, list[str]]] = field(default_factory=list, repr=False)
    # content terms (``analyze_heads``) of the query, and those inside a matched dictionary form
    heads: frozenset[str] = frozenset()
    matched_heads: frozenset[str] = frozenset()

    def dictionary_share(self) -> float:
        """Fraction of the query's content terms that lie inside a dictionary form that fired (0..1):
        1.0 for "rendez-vous" or "tkt", ~0.2 for a long question where only "quel" fired. The pipeline
        uses it to lean on the lexical lists, where the variants are, rather than on the dense model,
        which only sees the standard form."""
        return len(self.matched_heads & self.heads) / len(self.heads) if self.heads else 0.0

    def term_weights(self) -> dict[str, float]:
        return {t: w for t, w, _ in self.terms}

    def expanded_terms(self) -> list[str]:
        return [t for t, _, o in self.terms if o != "query"]

    def lexical_terms(self, max_terms: int | None = 64) -> list[tuple[str, float]]:
        """(term, weight), the query's terms first, then expansions by decreasing weight, at most
        ``max_terms``: a concept like "insulte" brings ~170 terms, and an FTS5 OR over all of them costs
        ~35 ms at 10k chunks (2-core VM)."""
        own = [(t, w) for t, w, o in self.terms if o == "query"]
        exp = sorted(((t, w) for t, w, o in self.terms if o != "query"), key=lambda x: -x[1])
        out = own + exp
        return out if max_terms is None else out[: max(max_terms, len(own))]

    def dense_text(self, max_added: int = 8) -> str:
        """The query with its first expansions appended, for one dense embedding."""
        added: list[str] = []
        for a in self.applied:
            for t in a["to"]:
                if t not in added:
                    added.append(t)
        added = added[:max_added]
        return self.original if not added else f"{self.original} ({', '.join(added)})"

    def dense_queries(self, max_queries: int = 4) -> list[str]:
        """The original query, then rewrites where one matched span is replaced by one of its variants
        ("rdv demain" → "rendez-vous demain"): embed each and fuse, or average."""
        out = [self.original]
        text = unicodedata.normalize("NFC", self.original)
        for start, end, targets in self._spans:
            for t in targets:
                if len(out) >= max_queries:
                    return out
                q = text[:start] + t + text[end:]
                if q not in out:
                    out.append(q)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "terms": [{"term": t, "weight": round(w, 3), "origin": o} for t, w, o in self.terms],
            "phrases": [
                {"text": p.text, "terms": p.terms, "weight": round(p.weight, 3), "origin": p.origin}
                for p in self.phrases
            ],
            "applied": self.applied,
        }


@lru_cache(maxsize=8)
def _with_paths(user_dir: str, stamp: tuple[tuple[str, int], ...], paths: tuple[str, ...]) -> Dictionaries:
    return load_dictionaries(paths)


def expand_query(query: str, dictionaries: Dictionaries | Sequence[str | Path] | None = None) -> Expansion:
    """Analyse ``query`` and add the expansions of every dictionary form found in it.

    ``dictionaries``: a loaded set, or extra dictionary files/folders merged over the shipped and user ones
    (loaded once per list), or None for the shipped and user dictionaries."""
    if dictionaries is None:
        dicts = default_dictionaries()
    elif isinstance(dictionaries, Dictionaries):
        dicts = dictionaries
    else:
        udir = user_dictionary_dir()
        dicts = _with_paths(str(udir), _stamp(udir), tuple(str(p) for p in dictionaries))
    # Original terms weigh 1.0; parts of a compound ("rend" of "rendez-vous", "py" of "base.py"), the words
    # of a matched multi-word form ("mort", "rire" of "mort de rire") and matched concept words weigh
    # PHRASE_TERM_FACTOR: each is only partial evidence, and an abbreviation of the whole ("mdr") must not
    # rank below a lone "mort".
    heads = set(analyze_heads(query))
    weights: dict[str, tuple[float, str]] = {
        t: (1.0 if t in heads else PHRASE_TERM_FACTOR, "query") for t in analyze_query(query)
    }
    if not heads:  # a query of stop words only ("pas", "je suis"): keep them at full weight
        weights = {t: (1.0, "query") for t in weights}
    partial: set[str] = set()
    outside: set[str] = set()
    text = unicodedata.normalize("NFC", query)
    spans_ = surface_spans(text)
    surface = [w for w, _, _ in spans_]
    keys = [stem(t) for t in surface]
    phrases: dict[str, Phrase] = {}
    applied: list[dict[str, Any]] = []
    spans: list[tuple[int, int, list[str]]] = []
    seen_applied: set[tuple[str, str]] = set()
    covered: list[tuple[int, int]] = []  # char spans of every matched form
    matched_heads: set[str] = set()
    i = 0
    while i < len(keys):
        for n in range(min(dicts.max_len, len(keys) - i), 0, -1):
            rules = dicts.index.get(tuple(keys[i : i + n]))
            if rules:
                break
        else:
            i += 1
            continue
        matched = " ".join(surface[i : i + n])
        # A form made only of stop words ("pour", "c'est") does not pull in variants on its own.
        if not analyze(matched) and len(keys) > n:
            i += n
            continue
        span_heads = analyze_heads(text[spans_[i][1] : spans_[i + n - 1][2]])
        # The words of a multi-word form, and a concept word ("menace": the user wants threats, not
        # messages about threats), count as partial evidence.
        if len(set(span_heads)) > 1 or any(r.kind == "concepts" for r in rules):
            partial.update(span_heads)
        by_dict: dict[str, list[str]] = {}
        form: dict[str, str] = {}
        for r in rules:
            by_dict.setdefault(r.dictionary, []).append(r.target)
            form.setdefault(r.dictionary, r.trigger)
            terms = analyze_heads(r.target)
            multi = len(set(terms)) > 1
            w = r.weight * (PHRASE_TERM_FACTOR if multi else 1.0)
            for t in dict.fromkeys(terms):
                if t not in weights or (weights[t][1] != "query" and weights[t][0] < w):
                    weights[t] = (w, r.dictionary)
            if multi and r.target not in phrases:
                phrases[r.target] = Phrase(r.target, analyze(r.target), r.weight, r.dictionary)
        original = text[spans_[i][1] : spans_[i + n - 1][2]]
        for name, targets in by_dict.items():
            if (matched, name) not in seen_applied:
                seen_applied.add((matched, name))
                applied.append({"from": original, "form": form[name], "to": targets, "dictionary": name})
        # Dense rewrites: paraphrases only; a concept's instances replace the words only when the concept is
        # the whole query ("insulte" → "connard", but not "nique la police" → "nique la flic").
        covered.append((spans_[i][1], spans_[i + n - 1][2]))
        matched_heads.update(span_heads)
        rewrites = [r.target for r in rules if r.kind != "concepts" or n == len(keys)]
        if rewrites:
            spans.append((spans_[i][1], spans_[i + n - 1][2], rewrites))
        i += n
    # words of the query outside every matched multi-word form keep their own weight
    for _, a, b in spans_:
        if not any(a >= start and b <= end for start, end in covered):
            outside.update(analyze_heads(text[a:b]))
    for t in partial - outside:
        if weights.get(t, (0.0, ""))[1] == "query":
            weights[t] = (min(weights[t][0], PHRASE_TERM_FACTOR), "query")
    terms = [(t, w, o) for t, (w, o) in weights.items()]
    return Expansion(
        query, terms, list(phrases.values()), applied, spans, frozenset(heads), frozenset(matched_heads)
    )
