"""Rerank servers over HTTP (standard library only: no extra needed).

Protocols (request -> response):

* ``tei`` (Hugging Face text-embeddings-inference, ``POST {url}/rerank``):
  ``{"query", "texts", "raw_scores": false}`` -> ``[{"index", "score"}, ...]``.
* ``jina`` (``POST {url}`` e.g. ``https://api.jina.ai/v1/rerank``) and ``cohere`` (``/v1/rerank`` or
  ``/v2/rerank``): ``{"model", "query", "documents", "top_n"}`` -> ``{"results": [{"index",
  "relevance_score"}, ...]}``.
* ``llamacpp`` (llama.cpp ``llama-server --reranking``, ``POST {url}/v1/rerank`` or ``/rerank``): Jina-like.

Spec: ``tei:http://127.0.0.1:8080`` (the path is added when the URL has none), ``jina:https://host/v1/rerank``.
Options: ``model`` (or ``$PISTEUR_RERANK_MODEL``), ``api_key`` (or ``$PISTEUR_RERANK_API_KEY``; sent as a
Bearer token), ``timeout`` seconds. A document missing from the answer scores ``-inf`` (ranked last).
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

import numpy as np

from pisteur.retrieve.rerank.base import RerankContext, RerankError, register_reranker, texts_of
from pisteur.types import Hit

DEFAULT_PATHS = {"tei": "/rerank", "jina": "/v1/rerank", "cohere": "/v1/rerank", "llamacpp": "/v1/rerank"}


class HttpReranker:
    def __init__(
        self,
        protocol: str,
        url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if protocol not in DEFAULT_PATHS:
            raise RerankError(f"unknown rerank protocol '{protocol}' (known: {', '.join(DEFAULT_PATHS)})")
        if not url:
            raise RerankError(f"{protocol} reranker needs a URL: {protocol}:http://host:port")
        if "://" not in url:
            url = "http://" + url
        parsed = urlparse(url)
        if parsed.path in ("", "/"):
            url = url.rstrip("/") + DEFAULT_PATHS[protocol]
        self.protocol = protocol
        self.url = url
        self.model = model or os.environ.get("PISTEUR_RERANK_MODEL")
        self.api_key = api_key or os.environ.get("PISTEUR_RERANK_API_KEY")
        self.timeout = timeout
        self.name = f"{protocol}:{url}"

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        if self.protocol == "tei":
            return {"query": query, "texts": texts, "raw_scores": False}
        body: dict[str, Any] = {"query": query, "documents": texts, "top_n": len(texts)}
        if self.model:
            body["model"] = self.model
        if self.protocol == "cohere" and not self.model:
            raise RerankError("the cohere protocol needs a model name (option model= or $PISTEUR_RERANK_MODEL)")
        return body

    def parse(self, data: Any, n: int) -> np.ndarray:
        if self.protocol == "tei":
            items, key = data, "score"
        else:
            items = data.get("results") if isinstance(data, dict) else None
            key = "relevance_score"
        if not isinstance(items, list):
            raise RerankError(f"{self.name}: unexpected answer (no result list): {str(data)[:200]}")
        scores = np.full(n, -math.inf)
        for it in items:
            try:
                i, s = int(it["index"]), float(it.get(key, it.get("score")))
            except (KeyError, TypeError, ValueError) as exc:
                raise RerankError(f"{self.name}: malformed result {str(it)[:200]}") from exc
            if not 0 <= i < n:
                raise RerankError(f"{self.name}: result index {i} out of range (0..{n - 1})")
            scores[i] = s
        return scores

    def rerank(self, query: str, hits: Sequence[Hit | str], context: RerankContext | None = None) -> np.ndarray:
        texts = texts_of(hits)
        if not texts:
            return np.zeros(0)
        body = json.dumps(self.request_body(query, texts)).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise RerankError(f"{self.name}: HTTP {exc.code} {exc.reason}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RerankError(f"{self.name}: cannot reach the rerank server ({reason})") from exc
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RerankError(f"{self.name}: answer is not JSON: {raw[:200]!r}") from exc
        return self.parse(data, len(texts))


def _factory(protocol: str) -> Callable[..., HttpReranker]:
    def make(arg: str, **options: Any) -> HttpReranker:
        return HttpReranker(protocol, arg, **options)

    return make


for _p in DEFAULT_PATHS:
    register_reranker(_p)(_factory(_p))
