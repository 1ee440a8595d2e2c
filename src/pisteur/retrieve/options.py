"""The search options: one typed, frozen ``SearchOptions`` that every front end derives from.

The CLI flags, the HTTP and MCP request schemas (``remote_options_model()``: the subset a remote client may
set), the bench presets and a calibrated manifest override (``SearchOptions.merged``) all go through this
class, so an option is declared, typed, bounded and documented in one place. Each field's ``help`` metadata is
the text docs/retrieval.md lists (a test checks that every option is documented there).

Defaults were chosen by measurement on the train half of piaf-dev and on the sms-dev abbreviation task (see
docs/retrieval.md and docs/bench/retrieval.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Mode = Literal["hybrid", "dense", "lexical"]
Fusion = Literal["weighted", "rrf"]
Norm = Literal["zscore", "minmax"]
ExpandLexical = Literal["list", "merge", "both"]
Fill = Literal["all", "dense", "lexical", "none"]
# Rerankers a remote client may ask for: local, no path, no URL (a spec like ``tei:URL`` or
# ``cross-encoder:PATH`` is server-side configuration).
RemoteRerank = Literal["offline", "offline+use", "none"]
LIST_NAMES = ("dense", "dense_expanded", "lexical", "expansion")  # fusion breaks ties in this order


def _opt(default: Any, help: str, *, remote: bool = True, ge: float | None = None, le: float | None = None) -> Any:
    meta = {"help": help, "remote": remote, "ge": ge, "le": le}
    if isinstance(default, Weights):
        return field(default_factory=Weights, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Weights:
    """Fusion weight of each first-stage list (0 drops the list)."""

    dense: float = 1.0
    lexical: float = 1.5
    expansion: float = 1.0
    dense_expanded: float = 0.5

    def get(self, name: str, default: float = 1.0) -> float:
        return float(getattr(self, name, default))

    def scaled_dense(self, factor: float) -> Weights:
        return dataclasses.replace(self, dense=self.dense * factor, dense_expanded=self.dense_expanded * factor)

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SearchOptions:
    """Every option of ``pisteur.retrieve.pipeline.search``; the defaults are the tuned product pipeline."""

    mode: Mode = _opt("hybrid", "first-stage lists: hybrid (dense + BM25), dense or lexical (BM25 only)")
    fusion: Fusion = _opt("weighted", "how the first-stage lists merge: weighted (normalised scores) or rrf")
    norm: Norm = _opt("zscore", "score normalisation of weighted fusion: zscore or minmax")
    weights: Weights = _opt(Weights(), "fusion weight per list: dense, lexical, expansion, dense_expanded")
    rrf_k: float = _opt(60.0, "reciprocal-rank fusion constant", ge=1.0, le=1000.0)
    expand: bool = _opt(True, "dictionary expansion of the query (abbreviations, acronyms, concepts)")
    expand_dense: bool = _opt(
        False, "also embed the query with its expansions appended and fuse that list (slower)"
    )
    expand_lexical: ExpandLexical = _opt(
        "both", "expansion terms make their own BM25 list (list), join the query's (merge), or both"
    )
    fill: Fill = _opt(
        "all",
        "weighted fusion: candidates missing from a list get their exact score (stored-vector cosine, BM25 0) "
        "instead of the list's floor: all, dense, lexical or none",
    )
    profiles: bool = _opt(
        True,
        "expand per source profile: developer sessions only with developer dictionaries, documents and "
        "messages with theirs (false: every dictionary on every source)",
    )
    rerank: str = _opt(
        "offline",
        "second stage: offline (local signals), offline+use, none, or a server-side reranker spec "
        "(cross-encoder:PATH, tei:URL...)",
    )
    rerank_depth: int = _opt(30, "candidates re-scored by the second stage", ge=0, le=200)
    candidates: int = _opt(100, "size of each first-stage list", ge=1, le=1000)
    lean: float = _opt(
        0.75,
        "when the query's content words are dictionary forms that fired, the dense weight is scaled down "
        "by up to this much (0 turns it off)",
        ge=0.0,
        le=1.0,
    )
    lean_from: float = _opt(0.5, "share of the query's content words from which lean starts", ge=0.0, le=1.0)
    overlap: bool = _opt(
        True, "expansion and BM25 run in a worker thread while the query is embedded (same results)", remote=False
    )
    dictionaries: tuple[str, ...] = _opt(
        (), "extra dictionary files or folders (TOML) merged over the shipped and user ones", remote=False
    )
    concepts: bool = _opt(
        True,
        "a query naming a kind of abuse (\"message insultant\", \"menace de mort\") ranks the messages that ARE "
        "it above those that talk about it (retrieve/concepts.py; no second stage for such queries)",
    )
    tuning: bool | str = _opt(
        True,
        "the index's own tuning (`pisteur eval tune`: option overrides under the caller's, a query adapter); "
        "false: none; a folder: the tuning stored there",
        remote=False,
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check(f, getattr(self, f.name))
        if isinstance(self.weights, Mapping):  # built from a plain mapping: normalise
            object.__setattr__(self, "weights", _weights(Weights(), self.weights))
        if isinstance(self.dictionaries, list | str):
            paths = (self.dictionaries,) if isinstance(self.dictionaries, str) else self.dictionaries
            object.__setattr__(self, "dictionaries", tuple(str(p) for p in paths))

    # -- derived ---------------------------------------------------------------------------------
    @property
    def reranks(self) -> bool:
        return self.rerank != "none"

    @property
    def wants_dense(self) -> bool:
        return self.mode in ("hybrid", "dense")

    @property
    def wants_lexical(self) -> bool:
        return self.mode in ("hybrid", "lexical")

    @property
    def wants_expansion(self) -> bool:
        """Expansion runs for the lexical lists (``expand``, not in dense mode) or for ``expand_dense``."""
        return (self.expand and self.mode != "dense") or self.expand_dense

    def merged(self, overrides: Mapping[str, Any] | None) -> SearchOptions:
        """These options with ``overrides`` applied (a calibrated manifest, a bench preset, a request):
        ``None`` values keep the current value; ``weights`` may give only some lists. Unknown names and
        bad values raise ``ValueError`` naming the option."""
        if not overrides:
            return self
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown search option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        changes = {k: v for k, v in overrides.items() if v is not None}
        if "weights" in changes:
            changes["weights"] = _weights(self.weights, changes["weights"])
        if "dictionaries" in changes:
            d = changes["dictionaries"]
            changes["dictionaries"] = (str(d),) if isinstance(d, str) else tuple(str(p) for p in d)
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["dictionaries"] = list(self.dictionaries)
        return out


def _weights(base: Weights, given: Any) -> Weights:
    if isinstance(given, Weights):
        return given
    if not isinstance(given, Mapping):
        raise ValueError(f"option weights: expected a mapping of list names to numbers, got {given!r}")
    unknown = sorted(set(given) - set(LIST_NAMES))
    if unknown:
        raise ValueError(f"option weights: unknown list(s) {', '.join(unknown)} (known: {', '.join(LIST_NAMES)})")
    try:
        values = {k: float(v) for k, v in given.items() if v is not None}
    except (TypeError, ValueError):
        raise ValueError(f"option weights: numbers expected, got {dict(given)!r}") from None
    return dataclasses.replace(base, **values)


def _check(f: dataclasses.Field[Any], value: Any) -> None:
    """Type and bounds of one option (a frozen dataclass does not check them by itself)."""
    name, kind = f.name, f.type
    choices = _CHOICES.get(name)
    if choices is not None:
        if value not in choices:
            raise ValueError(f"option {name}: '{value}' is not one of {', '.join(choices)}")
        return
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"option {name}: true or false expected, got {value!r}")
    elif kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float) or (kind == "int" and value != int(value)):
            raise ValueError(f"option {name}: a number expected, got {value!r}")
        lo, hi = f.metadata.get("ge"), f.metadata.get("le")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ValueError(f"option {name}: {value} is outside [{lo}, {hi}]")
    elif kind == "str" and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"option {name}: a name expected, got {value!r} ('none' to skip)")


_CHOICES: dict[str, tuple[str, ...]] = {
    "mode": get_args(Mode),
    "fusion": get_args(Fusion),
    "norm": get_args(Norm),
    "expand_lexical": get_args(ExpandLexical),
    "fill": get_args(Fill),
}

DEFAULT_OPTIONS = SearchOptions()


def option_help() -> dict[str, str]:
    """Every option's name and help text (what docs/retrieval.md documents)."""
    return {f.name: str(f.metadata["help"]) for f in dataclasses.fields(SearchOptions)}


def remote_names() -> list[str]:
    """Options a remote client (HTTP ``options``, MCP) may set: no file path, no URL, no server tuning."""
    return [f.name for f in dataclasses.fields(SearchOptions) if f.metadata["remote"]]




def options_table() -> str:
    """The Markdown table of every option (docs/retrieval.md holds it verbatim; a test checks it)."""
    rows = ["| option | default | remote | what it does |", "|---|---|---|---|"]
    for f in dataclasses.fields(SearchOptions):
        default = getattr(DEFAULT_OPTIONS, f.name)
        shown = ", ".join(f"{k} {v:g}" for k, v in default.as_dict().items()) if isinstance(default, Weights) else (
            "none" if default == () else str(default).lower() if isinstance(default, bool) else str(default)
        )
        remote = "yes" if f.metadata["remote"] else "no"
        rows.append(f"| `{f.name}` | {shown} | {remote} | {f.metadata['help']} |")
    return "\n".join(rows)


__all__ = [
    "DEFAULT_OPTIONS",
    "LIST_NAMES",
    "RemoteRerank",
    "SearchOptions",
    "Weights",
    "option_help",
    "options_table",
    "remote_names",
]
