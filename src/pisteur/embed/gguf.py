"""GGUF backend through llama-cpp-python (extra ``gguf``): ``gguf:/models/Qwen3-Embedding-0.6B-Q8_0.gguf``.

The pooling type is set per model from the catalogue (last token for Qwen3-Embedding and the other
decoder models, CLS for BGE-M3 and gte-multilingual, mean for the rest) unless ``pooling=`` overrides it
or the model is unknown (then the GGUF's own metadata decides). Last-token models need their EOS token
(``<|endoftext|>`` for Qwen3) at the end of every input: the official GGUFs ask llama.cpp to add it; when a
file does not, pisteur appends the EOS token id itself (a token, not the text ``<|endoftext|>``, which
llama-cpp-python's ``embed`` would tokenise as plain characters). Inputs are cut to ``max_tokens`` with
the EOS kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pisteur.embed.base import EmbedderError, normalize, register
from pisteur.embed.instructions import prompting_for
from pisteur.models.catalog import ModelInfo, find_for_spec

INSTALL = "pip install 'pisteur[gguf]'"
# llama.h: LLAMA_POOLING_TYPE_NONE=0, MEAN=1, CLS=2, LAST=3
POOLING = {"mean": 1, "cls": 2, "last": 3}


def _import_llama() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise EmbedderError(f"the gguf backend needs llama-cpp-python: {INSTALL}") from exc
    return llama_cpp


def pooling_type_for(info: ModelInfo | None, override: str | None = None) -> int | None:
    """llama.cpp pooling type for a model; None lets the GGUF metadata decide."""
    name = override or (info.pooling if info else None)
    if name is None:
        return None
    if name not in POOLING:
        if override:
            raise EmbedderError(f"pooling '{override}' unknown: use one of {', '.join(POOLING)}")
        return None
    return POOLING[name]


def eos_plan(probe_tokens: Sequence[int], eos_id: int, needs_eos: bool) -> str:
    """'' (the model needs no EOS), 'model' (llama.cpp adds it already) or 'pisteur' (we append it)."""
    if not needs_eos:
        return ""
    return "model" if probe_tokens and probe_tokens[-1] == eos_id else "pisteur"


def fit_tokens(tokens: list[int], max_tokens: int, suffix: Sequence[int] = ()) -> list[int]:
    """Cut to ``max_tokens`` keeping ``suffix`` (the special tokens the tokenizer puts last, [SEP] or the
    EOS, plus the EOS pisteur appends) at the end, exactly once."""
    suffix = list(suffix)
    n = len(suffix)
    body = tokens[:-n] if n and tokens[-n:] == suffix else tokens
    if n and body[-n:] == suffix:  # the tokenizer added part of it, pisteur adds the rest
        body = body[:-n]
    return body[: max(0, max_tokens - n)] + suffix


def tail_specials(tokenize: Callable[..., list[int]], bos_id: int) -> list[int]:
    """The tokens a tokenizer appends to every text: those of the empty string after the BOS/CLS."""
    empty = list(tokenize(b"", True, False))
    return empty[1:] if empty and empty[0] == bos_id else empty


def _n_ctx_train(llm: Any) -> int:
    try:
        return int(llm._model.n_ctx_train())
    except Exception:  # older/newer llama-cpp-python without the internal model object
        return 0


class GGUFEmbedder:
    def __init__(
        self,
        path: str,
        max_tokens: int | None = None,
        n_threads: int | None = None,
        n_gpu_layers: int = -1,
        batch_size: int = 32,
        batch_tokens: int = 0,
        pooling: str | None = None,
        instruction: str | None = None,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        info: ModelInfo | None = None,
        **_: Any,
    ) -> None:
        path = os.path.expanduser(path)
        if not os.path.isfile(path):
            raise EmbedderError(f"no GGUF file at {path} (see `pisteur models setup NAME` for the download)")
        llama_cpp = _import_llama()
        self.path = path
        self.name = f"gguf:{path}"
        self.info = info or find_for_spec("gguf", path)
        self.prompting = prompting_for(self.info, instruction, query_prefix, document_prefix)
        self.max_tokens = max_tokens or min(self.info.max_tokens if self.info else 512, 8192)
        self.pooling_type = pooling_type_for(self.info, pooling)
        # tokens per decode: one text's worth by default. Packing several texts into one larger batch was
        # 2-3x slower for a BERT on a 2-core CPU (attention over the whole batch); an option for GPUs.
        self.batch_tokens = max(self.max_tokens, batch_tokens)
        kwargs: dict[str, Any] = {
            "model_path": path,
            "embedding": True,
            "n_ctx": self.batch_tokens,
            "n_batch": self.batch_tokens,
            "n_ubatch": self.batch_tokens,
            "n_threads": n_threads or max(1, (os.cpu_count() or 2) // 2),
            "n_gpu_layers": n_gpu_layers,
            "verbose": False,
        }
        if self.pooling_type is not None:
            kwargs["pooling_type"] = self.pooling_type
        try:
            # Any: the extra may be absent where this is checked, and its tokenizer is replaced below
            self._llm: Any = llama_cpp.Llama(**kwargs)
        except Exception as exc:
            raise EmbedderError(f"llama.cpp cannot load {path}: {exc}") from exc
        self.batch_size = max(1, batch_size)
        train_ctx = _n_ctx_train(self._llm)
        if train_ctx and self.max_tokens > train_ctx:  # positions past training crash or garble small models
            self.max_tokens = train_ctx
        self.dims = int(self._llm.n_embd())
        self.eos_id = int(self._llm.token_eos())
        probe = self._llm.tokenize(b"probe", add_bos=True, special=False)
        if self.prompting.eos and self.eos_id < 0:
            raise EmbedderError(f"{path}: the model needs an EOS token for last-token pooling, the GGUF has none")
        self.eos = eos_plan(probe, self.eos_id, bool(self.prompting.eos))
        self._tokenize_raw = self._llm.tokenize
        tail = tail_specials(self._tokenize_raw, int(self._llm.token_bos()))
        self.suffix = tail + ([self.eos_id] if self.eos == "pisteur" else [])
        self._install_tokenizer(self._tokenize_raw)

    def _install_tokenizer(self, original: Callable[..., list[int]]) -> None:
        """Llama.embed tokenises each text itself: wrap its tokenizer to cut and to keep the EOS/[SEP]."""
        suffix, limit = self.suffix, self.max_tokens

        def tokenize(text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
            return fit_tokens(list(original(text, add_bos, special)), limit, suffix)

        self._llm.tokenize = tokenize

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        out = []
        for i in range(0, len(texts), self.batch_size):
            out.append(np.asarray(self._llm.embed(texts[i : i + self.batch_size], truncate=True), np.float32))
        return normalize(np.concatenate(out))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.prompting.document(t) for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.prompting.query(t) for t in texts])

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize_raw(text.encode("utf-8"), True, False))

    def describe(self) -> dict[str, Any]:
        names = {v: k for k, v in POOLING.items()}
        return {
            "backend": "gguf",
            "model": self.path,
            "catalog_id": self.info.id if self.info else None,
            "dims": self.dims,
            "max_tokens": self.max_tokens,
            "pooling": names[self.pooling_type] if self.pooling_type is not None else "from GGUF metadata",
            "eos": {"model": "added by llama.cpp", "pisteur": "appended by pisteur", "": ""}[self.eos],
            **self.prompting.describe(),
        }

    def close(self) -> None:
        close = getattr(self._llm, "close", None)
        if close:
            close()


@register("gguf")
def _gguf(name: str, **options: Any) -> GGUFEmbedder:
    return GGUFEmbedder(name, **options)
