"""Standard ranking metrics over document-level judgments (TREC / BEIR definitions).

A *run* maps a query id to its ranking: document ids, best first, no duplicates. *qrels* map a query id to
``{doc_id: grade}``; a grade > 0 is relevant. nDCG uses the graded gain ``grade`` with the log2 discount
(``sum(grade_i / log2(i + 1))``, i from 1) and the ideal ranking of the judged documents, as trec_eval's
``ndcg_cut``. Queries without any relevant document are skipped (as BEIR does).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Sequence[str]]


def dcg(gains: Iterable[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at(ranking: Sequence[str], rel: Mapping[str, int], k: int) -> float:
    ideal = dcg(sorted((g for g in rel.values() if g > 0), reverse=True)[:k])
    if ideal <= 0:
        return 0.0
    return dcg(max(rel.get(d, 0), 0) for d in ranking[:k]) / ideal


def recall_at(ranking: Sequence[str], rel: Mapping[str, int], k: int) -> float:
    relevant = {d for d, g in rel.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def precision_at(ranking: Sequence[str], rel: Mapping[str, int], k: int) -> float:
    return sum(1 for d in ranking[:k] if rel.get(d, 0) > 0) / k


def mrr_at(ranking: Sequence[str], rel: Mapping[str, int], k: int) -> float:
    for i, d in enumerate(ranking[:k]):
        if rel.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


METRICS = {
    "ndcg@10": lambda r, q: ndcg_at(r, q, 10),
    "recall@10": lambda r, q: recall_at(r, q, 10),
    "recall@100": lambda r, q: recall_at(r, q, 100),
    "mrr@10": lambda r, q: mrr_at(r, q, 10),
    "p@10": lambda r, q: precision_at(r, q, 10),
}


def per_query(run: Run, qrels: Qrels, metrics: Sequence[str] = tuple(METRICS)) -> dict[str, dict[str, float]]:
    """``{metric: {qid: value}}`` for every judged query with at least one relevant document.

    A judged query missing from the run counts as an empty ranking (score 0)."""
    out: dict[str, dict[str, float]] = {m: {} for m in metrics}
    for qid, rel in qrels.items():
        if not any(g > 0 for g in rel.values()):
            continue
        ranking = list(run.get(qid, ()))
        for m in metrics:
            out[m][qid] = METRICS[m](ranking, rel)
    return out


def evaluate(run: Run, qrels: Qrels, metrics: Sequence[str] = tuple(METRICS)) -> dict[str, float]:
    """Mean of each metric over judged queries."""
    pq = per_query(run, qrels, metrics)
    return {m: (sum(v.values()) / len(v) if v else 0.0) for m, v in pq.items()}
