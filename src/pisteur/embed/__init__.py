"""Embedding stage: one ``Embedder`` protocol, one module per backend, a registry."""

from pisteur.embed.base import (
    DEFAULT_MODEL,
    Embedder,
    EmbedderError,
    backends,
    load_embedder,
    normalize,
    register,
    resolve_spec,
)


def embedder_for_manifest(manifest: dict, *, lazy: bool = False, **overrides: object) -> Embedder:
    """The embedder that produced an index's vectors (to embed queries the same way as the documents);
    ``lazy``: the model is loaded only when a query is first embedded."""
    model = manifest.get("model") or {}
    if not model.get("spec"):
        raise EmbedderError("this index has no model yet: run `pisteur index` first")
    if lazy:
        from pisteur.embed.lazy import LazyEmbedder

        return LazyEmbedder({**model, "options": {**model.get("options", {}), **overrides}})
    return load_embedder(model["spec"], **{**model.get("options", {}), **overrides})


__all__ = [
    "embedder_for_manifest",
    "DEFAULT_MODEL",
    "Embedder",
    "EmbedderError",
    "backends",
    "load_embedder",
    "normalize",
    "register",
    "resolve_spec",
]
