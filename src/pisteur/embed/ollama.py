"""Ollama backend: ``ollama:TAG`` (``ollama:qwen3-embedding:4b``, ``ollama:bge-m3``).

One ``POST /api/embed`` per batch (many inputs per request), ``truncate`` on, ``keep_alive`` and
``options.num_ctx`` passed through. ``OLLAMA_HOST`` is honoured in all its forms (``0.0.0.0``,
``host:port``, ``http://host``, ``https://host:port``). Query instructions and document prefixes come from
the catalogue (:mod:`pisteur.embed.instructions`); Ollama's own template adds the EOS token for
last-token-pooled models such as Qwen3-Embedding (``pisteur models verify`` checks it against another
backend).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from pisteur.embed.base import EmbedderError, normalize, register
from pisteur.embed.http_util import HTTPEmbedderBase, HTTPError, ServerDown, batches, post_json
from pisteur.embed.instructions import prompting_for
from pisteur.models.catalog import find_for_spec

DEFAULT_PORT = 11434


def ollama_base_url(host: str | None = None) -> str:
    """Normalise an ``OLLAMA_HOST`` value into ``scheme://host:port`` (Ollama's own rules)."""
    host = (host if host is not None else os.environ.get("OLLAMA_HOST", "")).strip().rstrip("/")
    if not host:
        return f"http://127.0.0.1:{DEFAULT_PORT}"
    scheme = "http"
    if "://" in host:
        scheme, host = host.split("://", 1)
    parts = urlsplit(f"{scheme}://{host}")
    hostname = parts.hostname or "127.0.0.1"
    if hostname in ("0.0.0.0", "::"):
        hostname = "127.0.0.1"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    port = parts.port or (443 if scheme == "https" else DEFAULT_PORT)
    path = parts.path.rstrip("/")
    return f"{scheme}://{hostname}:{port}{path}"


class OllamaEmbedder(HTTPEmbedderBase):
    def __init__(
        self,
        model: str,
        host: str | None = None,
        batch_size: int = 32,
        num_ctx: int | None = None,
        keep_alive: str | int | None = "10m",
        truncate: bool = True,
        instruction: str | None = None,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        timeout: float = 300.0,
        retries: int = 4,
        **_: Any,
    ) -> None:
        self.model = model
        self.name = f"ollama:{model}"
        self.base_url = ollama_base_url(host)
        self.info = find_for_spec("ollama", model)
        self.prompting = prompting_for(self.info, instruction, query_prefix, document_prefix)
        self.batch_size = max(1, batch_size)
        # the context Ollama loads the model with: the model's, capped at 8192 (the sessions survey's setting); an
        # Ollama default of 2048 would silently truncate longer chunks
        self.num_ctx = num_ctx or (min(self.info.max_tokens, 8192) if self.info else None)
        self.keep_alive = keep_alive
        self.truncate = truncate
        self.timeout = timeout
        self.retries = retries
        self.max_tokens = self.num_ctx or 2048
        self.dims = self.info.dims if self.info else 0
        if not self.dims:  # unknown model: one probe call
            self.dims = int(self._embed(["dimension probe"]).shape[1])

    # -- HTTP -------------------------------------------------------------------------------------------
    def _request(self, inputs: list[str]) -> np.ndarray:
        payload: dict[str, Any] = {"model": self.model, "input": inputs, "truncate": self.truncate}
        if self.keep_alive is not None:
            payload["keep_alive"] = self.keep_alive
        if self.num_ctx:
            payload["options"] = {"num_ctx": int(self.num_ctx)}
        url = f"{self.base_url}/api/embed"
        try:
            out = post_json(url, payload, timeout=self.timeout, retries=self.retries)
        except ServerDown as exc:
            raise EmbedderError(
                f"cannot reach Ollama at {self.base_url} ({exc}): is `ollama serve` running? "
                "(set OLLAMA_HOST if it listens elsewhere)"
            ) from None
        except HTTPError as exc:
            raise self._explain(exc) from None
        except OSError as exc:
            raise EmbedderError(f"Ollama at {self.base_url} failed after retries: {exc}") from None
        vecs = out.get("embeddings") if isinstance(out, dict) else None
        if not isinstance(vecs, list) or len(vecs) != len(inputs):
            raise EmbedderError(f"Ollama answered {len(vecs or [])} embeddings for {len(inputs)} inputs")
        return np.asarray(vecs, dtype=np.float32)

    def _explain(self, exc: HTTPError) -> EmbedderError:
        msg = exc.message
        low = msg.lower()
        if exc.status == 404 or ("not found" in low and "model" in low):
            return EmbedderError(f"no Ollama model '{self.model}' ({msg}): run `ollama pull {self.model}`")
        if "does not support" in low and "embed" in low:
            return EmbedderError(f"'{self.model}' is not an embedding model for Ollama ({msg})")
        if "context length" in low or "too long" in low:
            return EmbedderError(
                f"Ollama refused an input longer than the context ({msg}): keep truncate on or raise num_ctx"
            )
        return EmbedderError(f"Ollama error for '{self.model}': HTTP {exc.status}: {msg}")

    def _embed(self, texts: list[str]) -> np.ndarray:
        parts = [self._request(batch) for _, batch in batches(texts, self.batch_size)]
        return normalize(np.concatenate(parts)) if parts else np.zeros((0, self.dims), np.float32)

    # -- Embedder ---------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "backend": "ollama",
            "model": self.model,
            "catalog_id": self.info.id if self.info else None,
            "host": self.base_url,
            "dims": self.dims,
            "max_tokens": self.max_tokens,
            "num_ctx": self.num_ctx,
            "truncate": self.truncate,
            "pooling": self.info.pooling if self.info else "unknown",
            "eos": "left to Ollama (check: pisteur models verify)" if self.info and self.info.eos else "",
            "token_count": "estimated (3 chars/token)",
            **self.prompting.describe(),
        }


@register("ollama")
def _ollama(name: str, **options: Any) -> OllamaEmbedder:
    return OllamaEmbedder(name, **options)
