"""Test doubles and builders. ``build_index`` writes files and indexes them for a test; ``HashEmbedder``
is a deterministic bag-of-words hashing vectoriser: it exercises the store and pipeline plumbing quickly; it
is never used as a product model (tests about retrieval quality use the real packaged models)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pisteur.embed.base import normalize, register


class HashEmbedder:
    max_tokens = 512

    def __init__(self, name: str = "hash", dims: int = 64, **_: Any) -> None:
        self.name = f"test-hash:{name}"
        self.dims = int(dims)
        self.calls = 0
        self.embedded = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dims, np.float32)
        for w in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
            v[h % self.dims] += 1.0 if (h >> 32) & 1 else -1.0
        return v

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text)) + 2

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        return normalize(np.stack([self._vec(t) for t in texts]))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return normalize(np.stack([self._vec(t) for t in texts]))

    def describe(self) -> dict[str, Any]:
        return {"backend": "test-hash", "dims": self.dims, "query_prefix": "", "document_prefix": ""}


@register("test-hash")
def _factory(name: str, **options: Any) -> HashEmbedder:
    return HashEmbedder(name, **options)


# -- building an index for a test -------------------------------------------------------------------------
TEST_MODEL = "test-hash:x"


def build_index(tmp_path: Path, files: Mapping[str, str | bytes] | Sequence[Path], *, model: str = TEST_MODEL,
                name: str = "idx", chunker: Any = None, **options: Any) -> Path:
    """Write ``files`` (relative path -> text or bytes) under ``tmp_path/"src"``, or take existing paths,
    index them into ``tmp_path/name`` with ``model`` (the hashing test model by default) and return the
    index directory.

    ``chunker`` is a ``ChunkerConfig``; other keyword options (``embedder=``, ``vectors=``, ``rebuild=``...)
    go to ``pisteur.indexer.index_paths``."""
    from pisteur.indexer import index_paths

    if isinstance(files, Mapping):
        root = tmp_path / "src"
        for rel, content in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content, encoding="utf-8")
        paths: list[Path] = [root]
    else:
        paths = [Path(p) for p in files]
    index_dir = tmp_path / name
    if "embedder" not in options:  # an embedder instance, when given, is the model
        options["model"] = model
    index_paths(index_dir, paths, chunker=chunker, **options)
    return index_dir


def session_record(role: str, content: str | list[dict[str, Any]], *, uuid: str, ts: str,
                   session: str = "sess-1", cwd: str = "/home/u/proj") -> str:
    """One Claude Code JSONL line (user or assistant; ``content`` is text or content blocks)."""
    rec: dict[str, Any] = {"type": role, "uuid": uuid, "parentUuid": None, "sessionId": session, "cwd": cwd,
                           "timestamp": ts, "isSidechain": False, "userType": "external", "version": "2.0.0",
                           "gitBranch": "main", "message": {"role": role, "content": content}}
    if role == "assistant":
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        rec["message"] = {"role": "assistant", "model": "claude", "id": "msg-" + uuid, "content": blocks}
    return json.dumps(rec, ensure_ascii=False) + "\n"


def tool_use(uuid: str, ts: str, tool_id: str, name: str, inp: dict[str, Any], **kw: Any) -> str:
    return session_record("assistant", [{"type": "tool_use", "id": tool_id, "name": name, "input": inp}],
                          uuid=uuid, ts=ts, **kw)


def tool_result(uuid: str, ts: str, tool_id: str, text: str, **kw: Any) -> str:
    block = {"type": "tool_result", "tool_use_id": tool_id, "content": [{"type": "text", "text": text}]}
    return session_record("user", [block], uuid=uuid, ts=ts, **kw)
