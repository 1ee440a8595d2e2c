"""What an indexing run did, for the CLI summary, ``--json`` and the live indexer's status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    appended: int = 0
    deleted: int = 0
    unchanged: int = 0
    resumed: int = 0  # sources a killed run left half-stored, redone
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    skipped_lines: int = 0
    chunks_stored: int = 0  # chunks written (lexically searchable) by this run
    chunks_reused: int = 0  # of those, how many got the vector of an identical text already embedded
    chunks_embedded: int = 0  # texts sent to the embedder
    chunks_dense: int = 0  # chunks that got a vector in the dense pass (embedded or identical to one)
    tokens_embedded: int = 0
    dense_pending: int = 0  # chunks still waiting for a vector when the run ended
    dense_coverage: float = 1.0
    seconds_searchable: float = 0.0  # from start to every read chunk committed
    seconds: float = 0.0

    def count(self, action: str) -> None:
        name = {"new": "added", "changed": "updated", "append": "appended", "resume": "resumed"}[action]
        setattr(self, name, getattr(self, name) + 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added, "updated": self.updated, "appended": self.appended, "deleted": self.deleted,
            "unchanged": self.unchanged, "resumed": self.resumed,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "warnings": [{"path": p, "message": m} for p, m in self.warnings],
            "skipped_lines": self.skipped_lines, "chunks_stored": self.chunks_stored,
            "chunks_reused": self.chunks_reused, "chunks_embedded": self.chunks_embedded,
            "chunks_dense": self.chunks_dense, "tokens_embedded": self.tokens_embedded,
            "dense_pending": self.dense_pending, "dense_coverage": self.dense_coverage,
            "seconds_searchable": round(self.seconds_searchable, 3), "seconds": round(self.seconds, 3),
        }
