"""sentence-transformers backend (extra ``st``): ``st:/models/Solon-embeddings-large-0.1`` or a cached id.

Loads a local directory or a Hugging Face id already in the local cache (``HF_HUB_OFFLINE=1`` makes a
missing id fail instead of downloading). Device auto: cuda, then mps, then cpu; fp16 on GPU; batch size
from free memory. Query instructions and document prefixes come from the catalogue, or from the model's
own ``prompts`` when ``query_prompt_name``/``document_prompt_name`` are given. For last-token models
(Qwen3-Embedding) the EOS token is appended when the tokenizer does not add it itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from pisteur.embed.base import EmbedderError, normalize, register
from pisteur.embed.instructions import prompting_for
from pisteur.embed.matryoshka import check_dims
from pisteur.models.catalog import ModelInfo, find_for_spec

INSTALL = "pip install 'pisteur[st]'"


def _import_st() -> Any:
    try:
        import sentence_transformers
    except ImportError as exc:
        raise EmbedderError(f"the st backend needs sentence-transformers and torch: {INSTALL}") from exc
    return sentence_transformers


def pick_device(requested: str | None = None) -> str:
    if requested and requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def auto_batch_size(device: str, free_bytes: int | None, params_b: float | None) -> int:
    """Texts per forward pass: more with more free accelerator memory, fewer for big models."""
    if device == "cpu" or not free_bytes:
        return 16 if (params_b or 0.3) > 1 else 32
    free_gb = free_bytes / 1e9
    per_text_gb = 0.02 * max(0.1, params_b or 0.5)  # activations for a 512-token text, roughly
    return int(max(4, min(256, free_gb * 0.5 / per_text_gb)))


def tokenizer_adds_eos(tokenizer: Any, eos: str) -> bool:
    """Whether tokenising a text already ends it with ``eos`` (Qwen3-Embedding's updated tokenizer does)."""
    eos_id = tokenizer.convert_tokens_to_ids(eos)
    if eos_id is None or eos_id == getattr(tokenizer, "unk_token_id", None):
        return False
    ids = tokenizer("probe")["input_ids"]
    return bool(ids) and ids[-1] == eos_id


def _load_model(st: Any, model: str, device: str, prompts: dict[str, str] | None, trust: bool) -> Any:
    """The SentenceTransformer (from local files only when offline or given a folder); one clear error."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        return st.SentenceTransformer(
            model,
            device=device,
            prompts=prompts,
            trust_remote_code=trust,
            local_files_only=offline or os.path.isdir(model),
        )
    except Exception as exc:  # OSError, ValueError, HF errors: one clear message
        raise EmbedderError(
            f"sentence-transformers cannot load '{model}' ({type(exc).__name__}: {exc}); give a local "
            "directory, or an id already in the Hugging Face cache"
        ) from exc


class STEmbedder:
    def __init__(
        self,
        model: str,
        device: str | None = None,
        batch_size: int | None = None,
        fp16: bool | None = None,
        max_tokens: int | None = None,
        truncate_dim: int | None = None,
        prompts: dict[str, str] | None = None,
        query_prompt_name: str | None = None,
        document_prompt_name: str | None = None,
        instruction: str | None = None,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        trust_remote_code: bool | None = None,
        info: ModelInfo | None = None,
        **_: Any,
    ) -> None:
        st = _import_st()
        if model.startswith("~"):
            model = os.path.expanduser(model)
        self.model_id = model
        self.info = info or find_for_spec("st", model)
        opts = dict(self.info.st_options) if self.info else {}
        self.device = pick_device(device)
        trust = trust_remote_code if trust_remote_code is not None else bool(opts.get("trust_remote_code"))
        self._model = _load_model(st, model, self.device, prompts, trust)
        self.fp16 = fp16 if fp16 is not None else self.device in ("cuda", "mps")
        if self.fp16 and self.device != "cpu":
            self._model.half()
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        native = int(get_dim() or 0)
        self.native_dims = native
        self.dims = native
        self.truncate_dim = truncate_dim
        if truncate_dim and truncate_dim != native:
            check_dims(self.info, truncate_dim, native, model)
            self.dims = truncate_dim
        if max_tokens:
            self._model.max_seq_length = min(max_tokens, self._model.max_seq_length or max_tokens)
        self.max_tokens = int(self._model.max_seq_length or (self.info.max_tokens if self.info else 512))
        suffix = f"@{self.dims}d" if self.dims != native else ""
        self.name = f"st:{model}{suffix}"
        if self.info is None and instruction is None:  # a folder the catalogue does not know: its own prompts
            own = getattr(self._model, "prompts", None) or {}
            query_prefix = own.get("query") if query_prefix is None else query_prefix
            document_prefix = own.get("passage", own.get("document")) if document_prefix is None else document_prefix
        self.prompting = prompting_for(self.info, instruction, query_prefix, document_prefix)
        self.query_prompt_name = query_prompt_name
        self.document_prompt_name = document_prompt_name
        self.query_task = opts.get("query_task")
        self.document_task = opts.get("document_task")
        eos = self.prompting.eos
        self.append_eos = bool(eos) and not tokenizer_adds_eos(self._model.tokenizer, eos)
        self.batch_size = batch_size or self._auto_batch_size()

    def _auto_batch_size(self) -> int:
        """A batch that fits the device (the free GPU memory on CUDA) for this model's size."""
        free = None
        if self.device == "cuda":
            import torch

            free = int(torch.cuda.mem_get_info()[0])
        return auto_batch_size(self.device, free, self.info.params_b if self.info else None)

    def _encode(self, texts: list[str], prompt_name: str | None, task: str | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        if self.append_eos:
            texts = [t + self.prompting.eos for t in texts]
        kwargs: dict[str, Any] = {}
        if prompt_name:
            kwargs["prompt_name"] = prompt_name
        if task:
            kwargs["task"] = task
            kwargs.setdefault("prompt_name", task)
        vecs = self._model.encode(
            texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False, **kwargs
        )
        return normalize(np.asarray(vecs, dtype=np.float32)[:, : self.dims])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if self.document_prompt_name:
            return self._encode(list(texts), self.document_prompt_name, self.document_task)
        return self._encode([self.prompting.document(t) for t in texts], None, self.document_task)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self.query_prompt_name:
            return self._encode(list(texts), self.query_prompt_name, self.query_task)
        return self._encode([self.prompting.query(t) for t in texts], None, self.query_task)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(text)["input_ids"])

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "backend": "st",
            "model": self.model_id,
            "catalog_id": self.info.id if self.info else None,
            "dims": self.dims,
            "native_dims": self.native_dims,
            "max_tokens": self.max_tokens,
            "device": self.device,
            "fp16": self.fp16,
            "batch_size": self.batch_size,
            "pooling": self.info.pooling if self.info else "from the model's config",
            "eos": ("appended by pisteur" if self.append_eos else "added by the tokenizer")
            if self.prompting.eos
            else "",
            **self.prompting.describe(),
        }
        prompts = getattr(self._model, "prompts", {}) or {}
        for side, pn in (("query", self.query_prompt_name), ("document", self.document_prompt_name)):
            if pn:
                d[f"{side}_prefix"] = prompts.get(pn, "")
                d[f"{side}_prompt_name"] = pn
        return d


@register("st")
def _st(name: str, **options: Any) -> STEmbedder:
    return STEmbedder(name, **options)
