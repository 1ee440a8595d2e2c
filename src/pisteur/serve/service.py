"""The search service behind the MCP tools, the HTTP API and the web page.

One instance per server process: the store and the query embedder are opened once, lazily, and reused by
every call; the semantic cache and the metrics live here; the live indexer (``serve/live.py``) writes from a
background thread through its own store connection while searches keep reading (SQLite WAL), and
``store.refresh()`` before each search picks up its commits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pisteur.serve.cache import DEFAULT_THRESHOLD, MemoEmbedder, SemanticCache, term_key
from pisteur.serve.highlight import query_terms, spans
from pisteur.serve.limits import check_query
from pisteur.serve.metrics import Gauge, Metrics
from pisteur.serve.models import IndexResponse, ReadResponse, SearchFilters, SearchResponse, StatusResponse
from pisteur.serve.render import expansions_of, paginate, render_search

log = logging.getLogger("pisteur.serve")
REPLACED_CHECK_S = 2.0


class NoIndex(RuntimeError):
    """There is no index to search yet."""


class NotFound(KeyError):
    pass


class ModelUnavailable(NoIndex):
    """The index's query model cannot be loaded (missing extra, unknown backend, server down...)."""


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send Python-level prints (libraries loading models...) to stderr: stdout may be the MCP wire."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _opt_key(options: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, repr(v)) for k, v in options.items()))


class Service:
    def __init__(
        self,
        index_dir: Path | None = None,
        *,
        embedder: Any = None,
        model: str | None = None,
        sources: list[Path] | None = None,
        live: bool = False,
        live_interval: float = 2.0,
        cache: bool = True,
        cache_threshold: float = DEFAULT_THRESHOLD,
        search_options: dict[str, Any] | None = None,
        index_options: dict[str, Any] | None = None,
        audit: Any = None,
    ) -> None:
        from pisteur.config import default_index_dir

        self.index_dir = Path(index_dir) if index_dir else default_index_dir()
        self.model = model
        self.audit = audit  # an AuditLog (serve/audit.py), or None: off
        self.search_options = dict(search_options or {})
        self._store: Any = None
        self._embedder: MemoEmbedder | None = MemoEmbedder(embedder) if embedder is not None else None
        self._injected = embedder is not None
        self._identity: tuple[Any, ...] = ()
        self._stats: tuple[tuple[int, int], dict[str, Any]] | None = None
        self._checked = 0.0
        self._lock = threading.RLock()  # one SQLite connection + one query model: calls are serialised
        self._open_lock = threading.Lock()
        self.cache = SemanticCache(threshold=cache_threshold, enabled=cache)
        self.metrics = Metrics()
        self.started = time.time()
        self.live = None
        if live:
            from pisteur.config import default_claude_projects
            from pisteur.serve.live import LiveIndexer

            srcs = sources if sources is not None else [default_claude_projects()]
            self.live = LiveIndexer(
                self.index_dir, srcs, interval=live_interval, model=model,
                index_options=index_options, on_commit=self._after_commit,
            )

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, warm: bool = True) -> None:
        """Start the live indexer and, in the background, load the store and the model."""
        if self.live is not None:
            self.live.start()
        if warm:
            threading.Thread(target=self._warm_quietly, name="pisteur-warm", daemon=True).start()

    def _warm_quietly(self) -> None:
        try:
            self.warm()
        except Exception as exc:  # no index yet: the first search reports it
            log.info("warm-up skipped: %s", exc)

    def warm(self) -> None:
        store = self.store()
        with self._lock:
            emb = self.embedder(store)
            emb.embed_query("préchauffage")

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
        with self._lock:
            if self._store is not None:
                with contextlib.suppress(Exception):
                    self._store.close()
                self._store = None
            inner = getattr(self._embedder, "inner", None)
            if inner is not None and hasattr(inner, "close"):
                with contextlib.suppress(Exception):
                    inner.close()

    def _after_commit(self) -> None:
        self.metrics.inc("pisteur_index_commits_total")

    # -- lazy resources --------------------------------------------------------------------------
    def store(self) -> Any:
        if self._store is not None and not self._replaced():
            return self._store
        with self._open_lock:
            if self._store is not None and self._replaced():
                self._reset()
            if self._store is None:
                from pisteur.store import open_store

                db = self.index_dir / "index.sqlite"
                if not db.exists():
                    raise NoIndex(f"no index at {self.index_dir} yet (run `pisteur index`, or wait for the "
                                  "live indexer's first pass)")
                with stdout_to_stderr():
                    self._store = open_store(self.index_dir, readonly=True)
                self._identity = self._file_identity()
                self._checked = time.monotonic()
        return self._store

    # An index rebuilt under a running server (`pisteur index --rebuild`) is a new file: the open connection
    # would keep reading the deleted one. Checked on every call by inode (cheap), and every few seconds by
    # the manifest's creation stamp and a fresh connection's generation (an inode number can be reused).
    def _file_identity(self) -> tuple[Any, ...]:
        try:
            st = os.stat(self.index_dir / "index.sqlite")
        except OSError:
            return (None,)
        return (st.st_dev, st.st_ino)

    def _replaced(self) -> bool:
        if self._file_identity() != self._identity:
            return True
        if time.monotonic() - self._checked < REPLACED_CHECK_S:
            return False
        self._checked = time.monotonic()
        try:
            with self._lock:
                return bool(self._store.replaced())
        except Exception:  # a half-written index: look again next time
            return False

    def _reset(self) -> None:
        log.info("index %s was replaced: reopening", self.index_dir)
        with self._lock:
            with contextlib.suppress(Exception):
                self._store.close()
            self._store = None
            self.cache.clear()
            if not self._injected:
                self._embedder = None  # the new index may use another model

    def embedder(self, store: Any) -> MemoEmbedder:
        if self._embedder is None:
            with stdout_to_stderr():
                from pisteur.indexer import embedder_for

                try:
                    self._embedder = MemoEmbedder(embedder_for(store))
                except Exception as exc:
                    raise ModelUnavailable(f"cannot load the index's model: {exc}") from exc
        return self._embedder

    # -- search ----------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        *,
        via: str = "api",
        explain: bool = True,
        **options: Any,
    ) -> SearchResponse:
        from pisteur import validate

        check_query(query)  # before anything else: a huge query costs nothing
        t0, c0 = time.perf_counter(), time.thread_time()
        query, k = validate.query(query), validate.top_k(k, name="k", maximum=100)
        filters = filters or SearchFilters()
        # the same checks as the command line ("hier" resolved before the cache key is made)
        f = validate.filters(kinds_=filters.kind, project=filters.project, session=filters.session,
                             source=filters.source, since=filters.date_from, until=filters.date_to,
                             names=("kind", "date_from", "date_to"))
        opts = {**self.search_options, **options}
        key = (k, (f.project, f.session, f.source, f.date_from, f.date_to, tuple(sorted(f.kinds or ()))),
               _opt_key(opts))
        store = self.store()
        with self._lock:
            store.refresh()
            gen = int(store.generation())
            self.cache.check_generation(gen)
            emb = self.embedder(store)
        result, cached, t_emb = self._answer(store, emb, query, k, f, opts, key)
        t_render = time.perf_counter()
        resp = render_search(query, k, result, gen, cached != "miss", explain)
        took = time.perf_counter() - t0
        if cached == "miss":
            resp.timings_ms["query_embed"] = round(t_emb * 1000, 3)
        else:
            resp.timings_ms = {}
        resp.timings_ms["render"] = round((time.perf_counter() - t_render) * 1000, 3)
        # CPU time of this thread: what the search costs on an idle core, whatever the machine's load
        resp.timings_ms["cpu"] = round((time.thread_time() - c0) * 1000, 3)
        resp.took_ms = round(took * 1000, 3)
        self.metrics.observe_search(took, via=via, cached=cached)
        if self.audit is not None:
            self.audit.search(via, query, k, filters.model_dump(), [h.id for h in resp.hits])
        return resp

    def _answer(self, store: Any, emb: Any, query: str, k: int, f: Any, opts: dict[str, Any], key: tuple[Any, ...]
                ) -> tuple[Any, str, float]:
        """The result from the cache (the same query, or a near one with the same terms) or from the pipeline:
        (result, "exact" | "near" | "miss", seconds spent embedding the query)."""
        result = self.cache.get_exact(query, key)
        if result is not None:
            return result, "exact", 0.0
        t_emb = time.perf_counter()
        with self._lock:
            qvec = emb.embed_query(query)
        t_emb = time.perf_counter() - t_emb
        terms = term_key(query)
        near = self.cache.get_near(qvec, key, terms)
        if near is not None:
            return near[0], "near", t_emb
        from pisteur.context import add_titles
        from pisteur.retrieve.pipeline import search as pipeline_search

        with self._lock, stdout_to_stderr():
            result = pipeline_search(store, emb, query, k=k, filters=f, **opts)
            add_titles(store, result.hits)
        self.cache.put(query, key, qvec, result, terms)
        return result, "miss", t_emb

    def audit_read(self, via: str, resp: ReadResponse) -> None:
        """Record that a hit was opened (no-op when the audit log is off)."""
        if self.audit is not None:
            self.audit.read(via, resp.id, resp.source)

    # -- read ------------------------------------------------------------------------------------
    def read(self, id: int, before: int = 0, after: int = 0, page: int = 0, page_chars: int = 8000,
             q: str | None = None) -> ReadResponse:
        before, after = max(0, min(int(before), 50)), max(0, min(int(after), 50))
        page_chars = max(200, min(int(page_chars), 100_000))
        from pisteur.context import context_hits

        store = self.store()
        with self._lock:
            store.refresh()
            hits = context_hits(store, int(id), before, after)
        if not hits:
            raise NotFound(f"no chunk with id {id} (the index may have changed: search again)")
        pages = paginate(hits, int(id), page_chars)
        if q:
            terms = query_terms(q, expansions_of(q))
            for p in pages[min(max(0, int(page)), len(pages) - 1)]:
                p.highlights = spans(p.text, terms)
        page = max(0, int(page))
        if page >= len(pages):
            raise NotFound(f"page {page} out of range (0..{len(pages) - 1})")
        src = next(h.source for h in hits if h.id == int(id))
        return ReadResponse(id=int(id), source=src, passages=pages[page], page=page, pages=len(pages),
                            has_more=page + 1 < len(pages), before=before, after=after)

    # -- status / index --------------------------------------------------------------------------
    def status(self) -> StatusResponse:
        live = self.live.state() if self.live is not None else {"enabled": False}
        index, cache, searches = str(self.index_dir), self.cache.stats(), self.metrics.searches()
        try:
            store = self.store()
            with self._lock:
                store.refresh()
                gen = int(store.generation())
                # counting chunks is a table scan: reuse the figures while the index has not changed
                if self._stats is None or self._stats[0] != (id(store), gen):
                    self._stats = ((id(store), gen), store.stats())
                st = self._stats[1]
        except NoIndex as exc:
            return StatusResponse(ready=False, error=str(exc), index=index, live=live, cache=cache,
                                  searches=searches)
        return StatusResponse(
            ready=True, model=st.get("model"), chunks=int(st.get("chunks", 0)), sources=int(st.get("sources", 0)),
            bytes_on_disk=int(st.get("bytes_on_disk", 0)), generation=int(st.get("generation", 0)),
            chunks_by_kind=st.get("chunks_by_kind", {}), last_update=st.get("last_update"), index=index, live=live,
            cache=cache, searches=searches,
        )

    def trigger_index(self) -> IndexResponse:
        if self.live is None:
            return IndexResponse(started=False, message="live indexing is off (start the server with --live)")
        started = self.live.trigger()
        msg = "indexing started" if started else "an indexing pass is already running; another will follow"
        return IndexResponse(started=started, message=msg, live=self.live.state())

    def prometheus(self) -> str:
        return self.metrics.render(self._gauges)

    def _gauges(self) -> list[Gauge]:
        c = self.cache
        out: list[Gauge] = [
            ("pisteur_cache_hit_ratio", "gauge", "Semantic cache hits / lookups since start.", [({}, c.hit_rate)]),
            ("pisteur_cache_lookups_total", "counter", "Semantic cache lookups by outcome.",
             [({"result": "exact"}, c.hits_exact), ({"result": "near"}, c.hits_near),
              ({"result": "miss"}, c.misses)]),
            ("pisteur_cache_entries", "gauge", "Entries in the semantic cache.", [({}, len(c._entries))]),
        ]
        try:
            st = self.status()
        except Exception:  # pragma: no cover - metrics must not fail
            st = None
        if st is not None and st.ready:
            out += [
                ("pisteur_index_chunks", "gauge", "Chunks in the index.", [({}, st.chunks)]),
                ("pisteur_index_chunks_by_kind", "gauge", "Chunks in the index by kind.",
                 [({"kind": k}, v) for k, v in st.chunks_by_kind.items()]),
                ("pisteur_index_sources", "gauge", "Source files in the index.", [({}, st.sources)]),
                ("pisteur_index_bytes", "gauge", "Bytes on disk of the index directory.", [({}, st.bytes_on_disk)]),
                ("pisteur_index_generation", "gauge", "Index generation (bumps on every commit).",
                 [({}, st.generation)]),
            ]
        if self.live is not None:
            s = self.live.state()
            out += [
                ("pisteur_indexing_in_progress", "gauge", "1 while a background indexing pass runs.",
                 [({}, 1.0 if s["running"] else 0.0)]),
                ("pisteur_indexing_progress_ratio", "gauge", "Progress of the current pass (0..1).",
                 [({}, s.get("progress") or 0.0)]),
                ("pisteur_indexing_runs_total", "counter", "Background indexing passes finished.",
                 [({}, s["runs"])]),
                ("pisteur_indexing_errors_total", "counter", "Background indexing passes that failed.",
                 [({}, s["errors"])]),
                ("pisteur_indexing_last_duration_seconds", "gauge", "Duration of the last pass.",
                 [({}, s.get("last_duration_s") or 0.0)]),
            ]
        return out
