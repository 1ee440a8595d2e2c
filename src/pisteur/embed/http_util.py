"""JSON over HTTP with the standard library, retries with backoff on transient failures only.

Transient: HTTP 5xx, 429, a connection reset or dropped, a timeout. Not transient: any other 4xx (a missing
model, a bad request) and a refused connection (the server is not running: retrying only delays the
message that says so).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass
class HTTPError(Exception):
    status: int
    message: str  # the server's error text ("error" field of the JSON body when there is one)
    body: Any = None

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}"


class ServerDown(Exception):
    """Connection refused or host unknown: nothing listens at the URL."""


def _error_message(body: Any, raw: str) -> str:
    if isinstance(body, dict):
        err = body.get("error", body.get("message", body.get("detail")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err:
            return str(err)
    return raw.strip()[:500] or "(empty body)"


def _is_refused(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, ConnectionRefusedError | socket.gaierror) or (
        isinstance(reason, OSError) and getattr(reason, "errno", None) in (111, 61, 10061)
    )


def post_json(
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
    timeout: float = 120.0,
    retries: int = 4,
    backoff: float = 0.5,
    sleep: Callable[[float], None] | None = None,
) -> Any:
    """POST ``payload`` as JSON and return the decoded JSON answer.

    Raises ``HTTPError`` (non-transient status, or transient after ``retries`` attempts) or ``ServerDown``.
    """
    sleep = sleep or time.sleep
    data = json.dumps(payload).encode("utf-8")
    hdrs = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    attempt = 0
    while True:
        attempt += 1
        req = urllib.request.Request(url, data=data, headers=hdrs, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raw = exc.read().decode("utf-8", "replace")
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = None
            err = HTTPError(exc.code, _error_message(body, raw), body)
            if exc.code not in RETRY_STATUS or attempt > retries:
                raise err from None
            delay = backoff * 2 ** (attempt - 1)
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            if retry_after and retry_after.isdigit():
                delay = max(delay, min(float(retry_after), 60.0))
            sleep(delay)
        except (urllib.error.URLError, ConnectionError, HTTPException, TimeoutError) as exc:
            if _is_refused(exc):
                raise ServerDown(str(getattr(exc, "reason", exc))) from None
            if attempt > retries:
                raise
            sleep(backoff * 2 ** (attempt - 1))


def estimate_tokens(text: str) -> int:
    """Token count without the server's tokenizer: ~3 characters per token (French and code run denser
    than English's ~4), rounded up, so that chunks sized with it stay under the model's limit."""
    return max(1, -(-len(text) // 3))


def batches(items: list[str], size: int) -> list[tuple[int, list[str]]]:
    return [(i, items[i : i + size]) for i in range(0, len(items), max(1, size))]


class HTTPEmbedderBase:
    """What the HTTP backends share: the model's prompts (query instruction, document prefix) applied here,
    token counts estimated; each backend's ``_embed`` does the batched requests."""

    prompting: Any

    def _embed(self, texts: list[str]) -> Any:  # pragma: no cover - every backend defines it
        raise NotImplementedError

    def embed_documents(self, texts: Sequence[str]) -> Any:
        return self._embed([self.prompting.document(t) for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> Any:
        return self._embed([self.prompting.query(t) for t in texts])

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)
