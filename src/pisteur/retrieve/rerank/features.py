"""Per-candidate features of the offline reranker: pure functions over analysed terms and signal arrays.

Every feature is computed *within* the candidate list of one query, so weights learned on one dataset do
not depend on the absolute scale of a model's cosines (e5's unrelated pairs sit near 0.78) or of BM25.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

FEATURES = ("dense", "use", "bm25", "fused", "coverage", "phrase", "proximity", "expansion")


def zscore(x: Sequence[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return a
    sd = float(a.std())
    return np.zeros_like(a) if sd <= 1e-12 else (a - a.mean()) / sd


def coverage(
    qterms: Sequence[str], doc_terms: set[str], alternatives: Mapping[str, Sequence[frozenset[str]]] | None = None
) -> float:
    """Fraction of the distinct query terms present in the document; with ``alternatives``, a term also
    counts as present when one of its expansions (all terms of it) is ("rendez" ← ``rdv``)."""
    q = set(qterms)
    if not q:
        return 0.0
    alts = alternatives or {}
    hit = sum(1 for t in q if t in doc_terms or any(a <= doc_terms for a in alts.get(t, ())))
    return hit / len(q)


def phrase(
    qterms: Sequence[str], doc_bigrams: set[tuple[str, str]], token_of: Mapping[str, int] | None = None
) -> float:
    """Fraction of the query's adjacent term pairs (after stop-word removal) adjacent in the document.
    With ``token_of`` (term -> index of the query token it comes from), a pair inside one token (a
    compound and its own part: "rendez-vous", "rend") is not a phrase: any document holding the compound
    has it, so it would only count the compound twice."""
    pairs = list(zip(qterms, qterms[1:], strict=False))
    if token_of:
        pairs = [(a, b) for a, b in pairs if token_of.get(a, -1) != token_of.get(b, -2)]
    return sum(1 for p in pairs if p in doc_bigrams) / len(pairs) if pairs else 0.0


def proximity(qterms: Sequence[str], doc_seq: Sequence[str], token_of: Mapping[str, int] | None = None) -> float:
    """``matched / span`` of the shortest window of the document holding every matched query term
    (1.0 = the matched terms are contiguous; 0 when fewer than two distinct terms match, or, with
    ``token_of``, when they all come from one query token: a compound next to its own part is no evidence)."""
    want = set(qterms)
    positions = [(i, t) for i, t in enumerate(doc_seq) if t in want]
    present = {t for _, t in positions}
    m = len(present)
    if m < 2 or (token_of and len({token_of.get(t, t) for t in present}) < 2):
        return 0.0
    best = len(doc_seq) + 1
    count: dict[str, int] = {}
    have = 0
    left = 0
    for pos_r, t_r in positions:
        count[t_r] = count.get(t_r, 0) + 1
        if count[t_r] == 1:
            have += 1
        while have == m:
            pos_l, t_l = positions[left]
            best = min(best, pos_r - pos_l + 1)
            count[t_l] -= 1
            if count[t_l] == 0:
                have -= 1
            left += 1
    return m / best


def weighted_coverage(terms: Sequence[tuple[str, float]], doc_terms: set[str]) -> float:
    """Weighted fraction of (term, weight) pairs present (used for expansion terms)."""
    total = sum(w for _, w in terms)
    return sum(w for t, w in terms if t in doc_terms) / total if total > 0 else 0.0


def text_features(
    qterms: Sequence[str],
    doc_seqs: Sequence[Sequence[str]],
    expansion: Sequence[tuple[str, float]] = (),
    alternatives: Mapping[str, Sequence[frozenset[str]]] | None = None,
    token_of: Mapping[str, int] | None = None,
) -> dict[str, np.ndarray]:
    """Lexical features for each candidate (analysed term sequence of each candidate given); ``token_of``:
    query term -> index of its query token (see ``phrase`` and ``proximity``)."""
    cov, phr, prox, exp = [], [], [], []
    for seq in doc_seqs:
        terms = set(seq)
        bigrams = set(zip(seq, seq[1:], strict=False))
        cov.append(coverage(qterms, terms, alternatives))
        phr.append(phrase(qterms, bigrams, token_of))
        prox.append(proximity(qterms, seq, token_of))
        exp.append(weighted_coverage(expansion, terms) if expansion else 0.0)
    return {
        "coverage": np.array(cov),
        "phrase": np.array(phr),
        "proximity": np.array(prox),
        "expansion": np.array(exp),
    }


def combine(feats: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Linear combination; score features (e5, use, bm25, fused) are z-scored within the list first."""
    n = len(next(iter(feats.values()))) if feats else 0
    out = np.zeros(n)
    for name, w in weights.items():
        if w == 0 or name not in feats:
            continue
        f = feats[name]
        out += w * (zscore(f) if name in ("dense", "use", "bm25", "fused") else np.asarray(f, np.float64))
    return out
