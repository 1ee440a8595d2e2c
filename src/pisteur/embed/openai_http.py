"""OpenAI-compatible backend: ``openai:MODEL`` against any ``/v1/embeddings`` server.

vLLM, Hugging Face TEI, llama.cpp's server, LM Studio, NVIDIA NIM and the hosted OpenAI API all speak it.
Base URL: option ``base_url``, else ``PISTEUR_OPENAI_BASE_URL``, else ``OPENAI_BASE_URL``, else
``https://api.openai.com/v1``. Key: option ``api_key_env`` names the variable (default
``PISTEUR_OPENAI_API_KEY`` then ``OPENAI_API_KEY``); local servers need none. ``dimensions`` is sent when
asked (text-embedding-3, Matryoshka models on vLLM). Batches start at ``batch_size`` and halve when the
server says the batch is too large (TEI: 413 "batch size 64 > maximum allowed batch size 32"); the rows
are put back in order by ``data[].index``.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from pisteur.embed.base import EmbedderError, normalize, register
from pisteur.embed.http_util import HTTPEmbedderBase, HTTPError, ServerDown, post_json
from pisteur.embed.instructions import prompting_for
from pisteur.models.catalog import find_for_spec

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_TOO_MANY = re.compile(
    r"batch size|too many|maximum allowed|max_client_batch_size|at most \d+|less than \d+|too large|"
    r"exceeds.*(inputs|batch)|payload",
    re.I,
)
_LIMIT = re.compile(
    r"(?:maximum allowed batch size|at most|max(?:imum)?(?: of)?|limit(?: is)?)\D{0,20}(\d+)", re.I
)


def base_url_from(option: str | None = None) -> str:
    url = option or os.environ.get("PISTEUR_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    url = (url or DEFAULT_BASE_URL).rstrip("/")
    if url.endswith("/embeddings"):
        url = url[: -len("/embeddings")]
    if re.match(r"^https?://[^/]+$", url):  # bare host: the OpenAI convention puts the API under /v1
        url += "/v1"
    return url


def api_key_from(env_name: str | None = None) -> str | None:
    names = [env_name] if env_name else ["PISTEUR_OPENAI_API_KEY", "OPENAI_API_KEY"]
    for n in names:
        if os.environ.get(n):
            return os.environ[n]
    return None


class OpenAIEmbedder(HTTPEmbedderBase):
    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = None,
        batch_size: int = 64,
        dimensions: int | None = None,
        max_tokens: int | None = None,
        instruction: str | None = None,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        extra_body: dict[str, Any] | None = None,
        timeout: float = 120.0,
        retries: int = 4,
        **_: Any,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url_from(base_url)
        self.api_key_env = api_key_env
        self._key = api_key_from(api_key_env)
        if api_key_env and not self._key:
            raise EmbedderError(f"openai backend: the environment variable {api_key_env} is empty")
        self.info = find_for_spec("openai", model)
        self.prompting = prompting_for(self.info, instruction, query_prefix, document_prefix)
        self.batch_size = max(1, batch_size)
        self.dimensions = dimensions
        self.extra_body = dict(extra_body or {})
        self.timeout = timeout
        self.retries = retries
        self.max_tokens = max_tokens or (self.info.max_tokens if self.info else 512)
        self.dims = dimensions or (self.info.dims if self.info else 0)
        if not self.dims:
            self.dims = int(self._embed(["dimension probe"]).shape[1])

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    def _request(self, inputs: list[str]) -> np.ndarray:
        payload: dict[str, Any] = {"model": self.model, "input": inputs, "encoding_format": "float"}
        if self.dimensions:
            payload["dimensions"] = int(self.dimensions)
        payload.update(self.extra_body)
        url = f"{self.base_url}/embeddings"
        try:
            out = post_json(url, payload, self._headers(), timeout=self.timeout, retries=self.retries)
        except ServerDown as exc:
            raise EmbedderError(f"cannot reach the embeddings server at {url} ({exc}): is it up?") from None
        except OSError as exc:
            raise EmbedderError(f"embeddings server at {url} failed after retries: {exc}") from None
        data = out.get("data") if isinstance(out, dict) else None
        if not isinstance(data, list) or len(data) != len(inputs):
            raise EmbedderError(f"{url} answered {len(data or [])} embeddings for {len(inputs)} inputs")
        rows = sorted(data, key=lambda d: d.get("index", 0))
        return np.asarray([r["embedding"] for r in rows], dtype=np.float32)

    def _explain(self, exc: HTTPError) -> EmbedderError:
        msg, low = exc.message, exc.message.lower()
        if exc.status in (401, 403):
            var = self.api_key_env or "OPENAI_API_KEY"
            return EmbedderError(f"{self.base_url} refused the key (HTTP {exc.status}: {msg}); set {var}")
        if exc.status == 404 or ("model" in low and ("not found" in low or "does not exist" in low)):
            return EmbedderError(f"{self.base_url} has no model '{self.model}' (HTTP {exc.status}: {msg})")
        if "context length" in low or "too long" in low or "maximum input length" in low:
            return EmbedderError(
                f"input too long for '{self.model}' ({msg}): lower max_tokens, or let the server cut "
                "(TEI: extra_body={'truncate': True}; vLLM: extra_body={'truncate_prompt_tokens': N})"
            )
        return EmbedderError(f"{self.base_url}: HTTP {exc.status}: {msg}")

    @staticmethod
    def _too_many(exc: HTTPError) -> int | None:
        """The batch size to retry with when the server rejected the batch as too large, else None."""
        if exc.status not in (400, 413, 422) or not (_TOO_MANY.search(exc.message) or exc.status == 413):
            return None
        m = _LIMIT.search(exc.message)
        return int(m.group(1)) if m and int(m.group(1)) > 0 else 0

    def _embed(self, texts: list[str]) -> np.ndarray:
        out: list[np.ndarray] = []
        i = 0
        while i < len(texts):
            batch = texts[i : i + self.batch_size]
            try:
                out.append(self._request(batch))
            except HTTPError as exc:
                limit = self._too_many(exc)
                if limit is None or len(batch) == 1:
                    raise self._explain(exc) from None
                self.batch_size = min(limit, len(batch) - 1) if limit else max(1, len(batch) // 2)
                continue
            i += len(batch)
        return normalize(np.concatenate(out)) if out else np.zeros((0, self.dims), np.float32)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "model": self.model,
            "catalog_id": self.info.id if self.info else None,
            "base_url": self.base_url,
            "dims": self.dims,
            "dimensions_requested": self.dimensions,
            "max_tokens": self.max_tokens,
            "batch_size": self.batch_size,
            "pooling": self.info.pooling if self.info else "server",
            "token_count": "estimated (3 chars/token)",
            **self.prompting.describe(),
        }


@register("openai")
def _openai(name: str, **options: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder(name, **options)
