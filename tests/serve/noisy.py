"""A test embedder that misbehaves like some libraries do: it prints to stdout (Python level) and writes
straight to file descriptor 1 when loaded and on every query. The MCP stdio server must keep all of it off
the protocol stream."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))
import helpers  # noqa: E402

from pisteur.embed.base import register  # noqa: E402


class NoisyEmbedder(helpers.HashEmbedder):
    def __init__(self, name: str = "noisy", **kw: Any) -> None:
        print("loading noisy model... (stdout)")
        os.write(1, b"raw fd1 noise at load\n")
        super().__init__(name, **kw)
        self.name = f"test-noisy:{name}"

    def embed_queries(self, texts):
        print("embedding a query (stdout)")
        os.write(1, b"raw fd1 noise at query\n")
        return super().embed_queries(texts)


@register("test-noisy")
def _factory(name: str, **options: Any) -> NoisyEmbedder:
    return NoisyEmbedder(name, **options)
