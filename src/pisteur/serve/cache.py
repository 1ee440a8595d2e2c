"""Semantic cache of recent queries: exact match first, then near-duplicate by query-embedding cosine.

Entries are keyed by everything that changes the answer besides the query text (k, filters, options) and
dropped wholesale when the index generation changes (any commit), so a cached answer is never staler than
the index it came from.

Exact: the query after case, accent and punctuation folding. Near-duplicate, for L2-normalised query
vectors: cosine >= ``threshold`` (0.985), or cosine >= ``term_threshold`` (0.95) when both queries have the
same analysed terms (French stems without stop words: "messages insultants" ~ "message insultant",
"procédure de garde à vue" ~ "procedure garde a vue"). e5 cosines are compressed: related queries with a
different need reach 0.976 ("rdv demain 14h" / "16h") while true rewordings can sit at 0.94, so cosine alone
cannot separate them; the measurement is in docs/bench/serve.md (``bench/serve_latency.py cache-threshold``).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported on first use: an MCP server answers its handshake without it
    import numpy as np

DEFAULT_THRESHOLD = 0.985
TERM_THRESHOLD = 0.95
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize_query(q: str) -> str:
    """Case, accents, punctuation and spacing don't matter: "Rendez-vous  demain ?" == "rendez vous demain"."""
    from pisteur.text.analysis import fold

    return _PUNCT.sub(" ", fold(q.casefold())).strip()


def term_key(q: str) -> frozenset[str]:
    from pisteur.text.analysis import analyze_query

    return frozenset(analyze_query(q))


@dataclass
class _Entry:
    norm: str
    key: Hashable
    vec: np.ndarray | None
    value: Any
    terms: frozenset[str] = frozenset()


class SemanticCache:
    def __init__(
        self, max_entries: int = 512, threshold: float = DEFAULT_THRESHOLD, enabled: bool = True,
        term_threshold: float = TERM_THRESHOLD,
    ) -> None:
        self.max_entries = max_entries
        self.threshold = threshold
        self.term_threshold = term_threshold
        self.enabled = enabled
        self._entries: OrderedDict[tuple[str, Hashable], _Entry] = OrderedDict()
        self._generation: int | None = None
        self._lock = threading.Lock()
        self.hits_exact = 0
        self.hits_near = 0
        self.misses = 0
        self.invalidations = 0

    # -- generation ------------------------------------------------------------------------------
    def check_generation(self, generation: int) -> None:
        """Drop everything if the index changed since the entries were stored."""
        with self._lock:
            if self._generation != generation:
                if self._entries:
                    self.invalidations += 1
                self._entries.clear()
                self._generation = generation

    # -- lookups ---------------------------------------------------------------------------------
    def get_exact(self, query: str, key: Hashable) -> Any | None:
        if not self.enabled:
            return None
        with self._lock:
            e = self._entries.get((normalize_query(query), key))
            if e is None:
                return None
            self._entries.move_to_end((e.norm, key))
            self.hits_exact += 1
            return e.value

    def get_near(self, vec: np.ndarray, key: Hashable, terms: frozenset[str] | None = None
                 ) -> tuple[Any, float] | None:
        """Best entry with the same key whose query vector has cosine >= ``threshold``, or >=
        ``term_threshold`` with the same analysed ``terms``."""
        import numpy as np

        if not self.enabled:
            return None
        with self._lock:
            cands = [e for e in self._entries.values() if e.key == key and e.vec is not None]
            if cands:
                mat = np.stack([e.vec for e in cands])  # type: ignore[misc]
                sims = mat @ np.asarray(vec, np.float32).reshape(-1)
                for j in np.argsort(-sims):
                    sim, e = float(sims[j]), cands[int(j)]
                    if sim < min(self.threshold, self.term_threshold):
                        break
                    if sim >= self.threshold or (terms and sim >= self.term_threshold and e.terms == terms):
                        self._entries.move_to_end((e.norm, key))
                        self.hits_near += 1
                        return e.value, sim
            self.misses += 1
            return None

    def miss(self) -> None:
        """Count a miss when the near-duplicate lookup was skipped."""
        with self._lock:
            self.misses += 1

    def put(self, query: str, key: Hashable, vec: np.ndarray | None, value: Any,
            terms: frozenset[str] | None = None) -> None:
        import numpy as np

        if not self.enabled:
            return
        norm = normalize_query(query)
        v = None if vec is None else np.asarray(vec, np.float32).reshape(-1)
        with self._lock:
            self._entries[(norm, key)] = _Entry(norm, key, v, value, terms or frozenset())
            self._entries.move_to_end((norm, key))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    # -- reporting -------------------------------------------------------------------------------
    @property
    def lookups(self) -> int:
        return self.hits_exact + self.hits_near + self.misses

    @property
    def hit_rate(self) -> float:
        n = self.lookups
        return (self.hits_exact + self.hits_near) / n if n else 0.0

    def stats(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "entries": len(self._entries),
            "threshold": self.threshold,
            "term_threshold": self.term_threshold,
            "hits_exact": self.hits_exact,
            "hits_near": self.hits_near,
            "misses": self.misses,
            "hit_rate": round(self.hit_rate, 4),
            "invalidations": self.invalidations,
        }


class MemoEmbedder:
    """Wraps an embedder so a query embedded for the cache lookup is not embedded again by the pipeline."""

    def __init__(self, inner: Any, size: int = 64) -> None:
        self.inner = inner
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_query(self, text: str) -> np.ndarray:
        import numpy as np

        with self._lock:
            v = self._memo.get(text)
            if v is not None:
                self._memo.move_to_end(text)
                return v
        v = np.asarray(self.inner.embed_queries([text]), np.float32)[0]
        with self._lock:
            self._memo[text] = v
            while len(self._memo) > self._size:
                self._memo.popitem(last=False)
        return v

    def embed_queries(self, texts: Any) -> np.ndarray:
        import numpy as np

        texts = list(texts)
        if not texts:
            return self.inner.embed_queries(texts)
        return np.stack([self.embed_query(t) for t in texts])

