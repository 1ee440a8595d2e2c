"""Chunk stage: split reader segments into token-bounded chunks."""

from pisteur.chunk.text import ChunkerConfig, chunk_segments, split_text

__all__ = ["ChunkerConfig", "chunk_segments", "split_text"]
