"""What scored each hit: a typed ``Explain`` per hit (rank and score in every first-stage list, the fused
rank, the second stage's score and rank, the dictionary expansions found in the hit), with ``to_json()``.

The JSON keeps the shape front ends read: ``{"dense": {"rank", "score"}, "lexical": ..., "fused": score,
"fused_rank": rank, "rerank": {"by", "score", "rank"}, "expansions": ["rdv → rendez-vous", ...]}``.
Fused scores are sums of normalised (z-scored) list scores: only their order means something, so readers
should show ``fused_rank`` (``pisteur search --explain`` does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pisteur.retrieve.expand import Expansion
from pisteur.text.analysis import analyze

EXPLAIN_EXPANSIONS = 20  # hits whose matched expansions are listed
MAX_EXPANSIONS_SHOWN = 8


@dataclass(frozen=True)
class ListRank:
    rank: int
    score: float


@dataclass(frozen=True)
class RerankScore:
    by: str
    score: float
    rank: int


@dataclass(frozen=True)
class Explain:
    lists: Mapping[str, ListRank]  # first-stage lists holding the hit
    fused: float
    fused_rank: int
    rerank: RerankScore | None = None
    expansions: tuple[str, ...] = ()  # "words of the query → form found in the hit"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            name: {"rank": lr.rank, "score": round(float(lr.score), 6)} for name, lr in self.lists.items()
        }
        out["fused"] = round(float(self.fused), 6)
        out["fused_rank"] = self.fused_rank
        if self.rerank is not None:
            out["rerank"] = {"by": self.rerank.by, "score": round(self.rerank.score, 6), "rank": self.rerank.rank}
        if self.expansions:
            out["expansions"] = list(self.expansions)
        return out


def list_ranks(lists: Mapping[str, Sequence[tuple[int, float]]]) -> dict[str, dict[int, ListRank]]:
    return {name: {cid: ListRank(r, s) for r, (cid, s) in enumerate(lst, 1)} for name, lst in lists.items()}


def matched_expansions(exp: Expansion | None, terms_here: set[str]) -> tuple[str, ...]:
    """The expansions of ``exp`` whose every analysed term is in the hit."""
    if exp is None:
        return ()
    found = [
        f"{a.source} → {t}" for a in exp.applied for t in a.to if (tt := analyze(t)) and set(tt) <= terms_here
    ]
    return tuple(found[:MAX_EXPANSIONS_SHOWN])


__all__ = ["EXPLAIN_EXPANSIONS", "Explain", "ListRank", "RerankScore", "list_ranks", "matched_expansions"]
