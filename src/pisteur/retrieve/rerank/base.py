"""The second-stage protocol and its registry.

A reranker re-scores the first-stage candidates of one query: ``rerank(query, hits, context) -> scores``
(one float per hit, higher is better). ``hits`` are ``Hit`` objects (or plain strings: the texts);
``context`` carries what the first stage already computed (query vector, ranked lists, expansion) for
rerankers that use it (the offline one); text-only rerankers (cross-encoder, HTTP) ignore it.

Specs: ``offline`` (default: re-scores with every local signal, no model to download),
``offline+use`` (adds USE cosine), ``none``, ``cross-encoder:/path/to/model`` (sentence-transformers; extra
``st``), ``tei:URL``, ``jina:URL``, ``cohere:URL``, ``llamacpp:URL`` (rerank servers; see ``http.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from pisteur.registry import Registry, RegistryError
from pisteur.types import Hit

if TYPE_CHECKING:
    from pisteur.retrieve.expand import Expansion
    from pisteur.store.base import Store


class RerankError(RuntimeError):
    """A reranker cannot run (missing extra, unreachable server, bad answer): the message says why."""


@dataclass
class RerankContext:
    store: Store | None = None
    embedder: Any = None
    query_vector: np.ndarray | None = None
    lists: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # first-stage ranked lists
    fused: dict[int, float] = field(default_factory=dict)  # first-stage fused score per chunk id
    expansion: Expansion | None = None  # the query's (widest) expansion
    dense_scale: float = 1.0  # the pipeline's query-dependent factor on the dense signal (option ``lean``)
    # the expansion that applies to a chunk kind, when source profiles expand the query differently
    expansion_for: Callable[[str], Expansion] | None = None


@runtime_checkable
class Reranker(Protocol):
    name: str

    def rerank(
        self, query: str, hits: Sequence[Hit | str], context: RerankContext | None = None
    ) -> np.ndarray: ...


def texts_of(hits: Sequence[Hit | str]) -> list[str]:
    return [h if isinstance(h, str) else h.text for h in hits]


Factory = Callable[..., Reranker]
RERANKERS: Registry[Factory] = Registry(
    "reranker",
    builtin_modules=[f"pisteur.retrieve.rerank.{m}" for m in ("offline", "cross_encoder", "http")],
    entry_point_group="pisteur.rerankers",
)
_CACHE: dict[tuple[str, str], Reranker] = {}


def register_reranker(prefix: str) -> Callable[[Factory], Factory]:
    """Decorator: register a reranker factory ``fn(argument, **options)`` under ``prefix``."""
    return RERANKERS.register(prefix)


def reranker_names() -> list[str]:
    return RERANKERS.names()


def get_reranker(spec: str, **options: Any) -> Reranker:
    """The reranker named by ``spec`` (``NAME`` or ``NAME:ARGUMENT``); instances are cached per spec."""
    key = (spec, repr(sorted(options.items())))  # options may hold dicts (weights): key on their repr
    if key in _CACHE:
        return _CACHE[key]
    name, _, arg = spec.partition(":")
    try:
        factory = RERANKERS.get(name)
    except RegistryError:
        raise RerankError(f"unknown reranker '{name}' (known: {', '.join(RERANKERS.names())}, none)") from None
    rr = factory(arg, **options)
    _CACHE[key] = rr
    return rr
