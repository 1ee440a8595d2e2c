"""``pool:BACKEND:MODEL``: one model served by several embedding servers, used together for one index.

    pisteur index --model pool:ollama:qwen3-embedding:4b  (PISTEUR_POOL_URLS=http://gpu1:11434,http://gpu2:11434)
    load_embedder("pool:openai:Qwen/Qwen3-Embedding-4B", urls=["http://a:8000/v1", "http://b:8000/v1"])

Every server must serve the same model (same weights, same template), so any of them gives the same vector.
Documents are cut into batches (the member backend's ``batch_size``); one thread per server (``per_server``
threads each) takes the next batch from a shared queue, so a fast server takes more batches than a slow one.
A batch that fails on a server (after that backend's own short retries) is put back for another server and
the failing server is dropped for the rest of the call; the call fails only when no server is left. Vectors
come back in input order. Queries go to the first server that answers.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pisteur.embed.base import Embedder, EmbedderError, register

MEMBER_BACKENDS = {"ollama": "host", "openai": "base_url"}


@dataclass(frozen=True)
class PoolOptions:
    urls: tuple[str, ...]
    per_server: int = 1  # concurrent requests per server
    batch_size: int | None = None  # inputs per request (default: the member backend's)
    retries: int = 1  # each member's own retries on a transient failure before the batch moves on


def pool_urls(urls: Sequence[str] | str | None) -> tuple[str, ...]:
    if urls is None:
        urls = os.environ.get("PISTEUR_POOL_URLS", "")
    if isinstance(urls, str):
        urls = [u for u in urls.replace(" ", ",").split(",")]
    out = tuple(u.strip() for u in urls if u.strip())
    if not out:
        raise EmbedderError("pool backend: no server URLs (option urls=[...] or PISTEUR_POOL_URLS=URL,URL)")
    return out


class PoolEmbedder:
    def __init__(self, spec: str, urls: Sequence[str] | str | None = None, per_server: int = 1,
                 batch_size: int | None = None, retries: int = 1, **member_options: Any) -> None:
        backend, _, model = spec.partition(":")
        if backend not in MEMBER_BACKENDS or not model:
            raise EmbedderError(f"pool backend: use pool:ollama:MODEL or pool:openai:MODEL (got 'pool:{spec}')")
        self.options = PoolOptions(pool_urls(urls), max(1, per_server), batch_size, retries)
        self.name = f"pool:{spec}"
        self._members = [self._member(backend, model, url, member_options) for url in self.options.urls]
        first = self._members[0]
        self.dims, self.max_tokens = first.dims, first.max_tokens
        self._batch = batch_size or int(getattr(first, "batch_size", 32))

    def _member(self, backend: str, model: str, url: str, extra: dict[str, Any]) -> Embedder:
        from pisteur.embed.base import load_embedder

        opts = {**extra, MEMBER_BACKENDS[backend]: url, "retries": self.options.retries}
        if self.options.batch_size:
            opts["batch_size"] = self.options.batch_size
        return load_embedder(f"{backend}:{model}", **opts)

    # -- protocol -----------------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return self._members[0].count_tokens(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        errors = []
        for member in self._members:
            try:
                return member.embed_queries(texts)
            except EmbedderError as exc:
                errors.append(str(exc))
        raise EmbedderError("every pool server failed: " + " | ".join(errors))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        starts = list(range(0, len(texts), self._batch))
        return np.concatenate(self._run(texts, starts))

    def describe(self) -> dict[str, Any]:
        inner = dict(self._members[0].describe())
        for key in ("host", "base_url"):
            inner.pop(key, None)
        return {**inner, "backend": "pool", "member_backend": inner.get("backend"), "servers": list(self.options.urls),
                "per_server": self.options.per_server}

    # -- scheduling ---------------------------------------------------------------------------------------
    def _run(self, texts: list[str], starts: list[int]) -> list[np.ndarray]:
        todo: queue.Queue[int] = queue.Queue()
        for k in range(len(starts)):
            todo.put(k)
        results: list[np.ndarray | None] = [None] * len(starts)
        state = _RunState(pending=len(starts))
        threads = [threading.Thread(target=self._worker, args=(m, texts, starts, todo, results, state), daemon=True)
                   for m in self._members for _ in range(self.options.per_server)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if any(r is None for r in results):
            raise EmbedderError("every pool server failed: " + " | ".join(state.errors[-len(self._members):]))
        return [r for r in results if r is not None]

    def _worker(self, member: Embedder, texts: list[str], starts: list[int], todo: queue.Queue[int],
                results: list[np.ndarray | None], state: _RunState) -> None:
        while not state.finished():
            try:
                k = todo.get(timeout=0.05)  # empty for now: a batch in flight elsewhere may still come back
            except queue.Empty:
                continue
            batch = texts[starts[k] : starts[k] + self._batch]
            try:
                results[k] = member.embed_documents(batch)
            except EmbedderError as exc:  # this server is out for this call; another one takes the batch
                todo.put(k)
                state.fail(str(exc))
                return
            state.done_one()


class _RunState:
    """Shared by one call's worker threads: batches not yet embedded, errors of the servers dropped."""

    def __init__(self, pending: int) -> None:
        self.pending = pending
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def done_one(self) -> None:
        with self._lock:
            self.pending -= 1

    def fail(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def finished(self) -> bool:
        with self._lock:
            return self.pending <= 0


@register("pool")
def _pool(name: str, **options: Any) -> PoolEmbedder:
    return PoolEmbedder(name, **options)
