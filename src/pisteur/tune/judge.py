"""How a tuning step decides that a change wins: per query kind, not over the pooled queries.

The synthetic set mixes kinds of queries in proportions set by the generator, not by the users: on an SMS
export most ``cloze`` and ``keywords`` queries are in the messages' own spelling, and only the ``standard``
ones are written out the way an analyst types. Over the pooled queries, a change that helps the many and
hurts the few wins (switching the SMS dictionary off, say), although the few are the ones that look like
the real questions. So:

- the score of a point is the **macro average** of the per-kind nDCG@10 (each kind counts once, whatever
  the number of queries the generator made of it), or the plain mean (``objective="micro"``);
- a change is kept only when it also **loses** on no kind with at least ``min_queries`` queries (smaller
  kinds are pooled into one group, too noisy alone). A kind loses when its mean nDCG@10 drops by more than
  ``kind_margin`` (and, with ``z`` > 0, by more than ``z`` standard errors of its per-query differences:
  the same queries are scored both ways, a paired comparison).

The same rule keeps or drops the calibration and the adapter on the held-out split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

SMALL = "(small kinds)"


@dataclass
class KindRule:
    min_queries: int = 20  # a kind with fewer queries is pooled with the other small kinds
    kind_margin: float = 0.01  # the most nDCG@10 a change may cost any one kind...
    # ...or this many standard errors of the kind's per-query differences, when larger. 0 (the default): a
    # kind's loss beyond the margin always vetoes. 1.64 (one-sided 95 %) let an adapter through that cost
    # the written-out queries of an SMS export 0.05 nDCG@10 on 40 held-out queries: too lenient to keep
    # the few from being outvoted
    z: float = 0.0
    objective: Literal["macro", "micro"] = "macro"


def kind_groups(kinds: Sequence[str], min_queries: int) -> dict[str, np.ndarray]:
    """Query positions per kind; kinds under ``min_queries`` pooled (kept when the pool is large enough)."""
    by: dict[str, list[int]] = {}
    for i, k in enumerate(kinds):
        by.setdefault(k or "unknown", []).append(i)
    groups = {k: v for k, v in by.items() if len(v) >= min_queries}
    small = [i for k, v in by.items() if len(v) < min_queries for i in v]
    if len(small) >= min_queries or (small and not groups):
        groups[SMALL] = small
    return {k: np.asarray(sorted(v), np.int64) for k, v in sorted(groups.items())}


class Judge:
    """Compares per-query score vectors of one fixed list of queries (same order in every vector)."""

    def __init__(self, kinds: Sequence[str], rule: KindRule | None = None) -> None:
        self.rule = rule or KindRule()
        self.groups = kind_groups(kinds, self.rule.min_queries)

    def by_kind(self, scores: np.ndarray) -> dict[str, float]:
        return {k: float(scores[idx].mean()) for k, idx in self.groups.items() if len(idx)}

    def score(self, scores: np.ndarray) -> float:
        """Macro average over the kinds, or the plain mean (0 for no query)."""
        if self.rule.objective == "micro":
            return float(scores.mean()) if len(scores) else 0.0
        per = self.by_kind(scores)
        return float(np.mean(list(per.values()))) if per else 0.0

    def losses(self, new: np.ndarray, old: np.ndarray) -> dict[str, tuple[float, float]]:
        """Per kind: (mean drop from ``old`` to ``new``, the drop's standard error)."""
        out = {}
        for k, idx in self.groups.items():
            d = old[idx] - new[idx]
            se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
            out[k] = (float(d.mean()), se)
        return out

    def worst_loss(self, new: np.ndarray, old: np.ndarray) -> tuple[str, float]:
        """The kind that loses most going from ``old`` to ``new``, and by how much (<= 0: none loses)."""
        losses = sorted(((v[0], k) for k, v in self.losses(new, old).items()), reverse=True)
        return (losses[0][1], losses[0][0]) if losses else ("", 0.0)

    def loser(self, new: np.ndarray, old: np.ndarray) -> str | None:
        """A kind that loses beyond the kind margin and beyond its noise, if any."""
        for k, (drop, se) in self.losses(new, old).items():
            if drop > self.rule.kind_margin and drop > self.rule.z * se:
                return k
        return None

    def wins(self, new: np.ndarray, old: np.ndarray, margin: float) -> bool:
        """``new`` beats ``old`` by more than ``margin`` and no kind loses."""
        return self.score(new) > self.score(old) + margin and self.loser(new, old) is None

    def holds(self, new: np.ndarray, old: np.ndarray) -> bool:
        """``new`` is at least as good as ``old`` and no kind loses."""
        return self.score(new) >= self.score(old) and self.loser(new, old) is None


def stratified(items: Sequence[object], kinds: Sequence[str], n: int) -> list[int]:
    """Up to ``n`` positions, taken round-robin over the kinds (each kind's own order kept, spread evenly
    through it): a small kind is wholly represented instead of thinned out with the large ones."""
    by: dict[str, list[int]] = {}
    for i, k in enumerate(kinds):
        by.setdefault(k, []).append(i)
    quota: dict[str, int] = dict.fromkeys(by, 0)
    left, total = dict(by), 0
    while total < min(n, len(items)):
        for k in list(left):
            if total >= n:
                break
            if quota[k] < len(by[k]):
                quota[k] += 1
                total += 1
            else:
                del left[k]
    out: list[int] = []
    for k, idx in by.items():
        q = quota[k]
        step = len(idx) / q if q else 0
        out += [idx[int(j * step)] for j in range(q)]
    return sorted(out)
