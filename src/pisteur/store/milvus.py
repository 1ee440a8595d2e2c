"""The Milvus engine: the ``Store`` protocol on a Milvus collection (Milvus Lite file, standalone or cluster).

Select with ``--engine milvus --uri URI`` (``./pisteur.db`` = Milvus Lite, ``http://host:19530`` = a server;
``PISTEUR_MILVUS_TOKEN`` for auth). Needs the extra: ``pip install 'pisteur[milvus]'`` (pymilvus 2.5.18 +
milvus-lite 2.5.1: the 2.5 line of Lite runs the real Milvus core, with the French analyzer and BM25).

Three collections under a prefix (default ``pisteur``):

- ``<p>_chunks``: ``id`` (the chunk id, INT64 primary key), ``dense`` (FLOAT_VECTOR, IP), ``text`` and ``terms``
  (VARCHAR) with a server-side ``BM25`` function into ``sparse`` (SPARSE_FLOAT_VECTOR), scalar metadata
  (``kind, source, ord, session_id, project, ts_first, ts_last, line_*, byte_*, tokens``) and ``meta`` (JSON).
  Lexical analysis, ``lexical`` option:
  ``"pisteur"`` (default): BM25 over ``terms`` = pisteur's own French analysis of the text (accent folding
  before Snowball stemming, elisions, stop words, SMS/acronym handling), the very terms the local engine puts
  in FTS5, so both engines rank alike and ``lexical_search(terms)`` means the same thing;
  ``"milvus"``: BM25 over the raw ``text`` with Milvus's French analyzer (``FRENCH_ANALYZER`` below), for
  collections other clients also query with raw text. ``text`` always has the French analyzer with
  ``enable_match`` (``TEXT_MATCH`` filters).
- ``<p>_sources``: one row per indexed file (``SourceState`` as JSON); ``<p>_meta``: manifest, next id,
  generation. (Milvus wants a vector field in every collection: those two carry a 2-d placeholder.)

Writes are not transactional across rows in Milvus: a source's chunks are deleted and inserted first and its
``sources`` row is written last, so after a crash the source looks stale and the next ``pisteur index``
re-does it (deleting by source path first: no duplicates). One writer at a time (no lock on a server).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from pisteur.store.base import Filters, SourceState
from pisteur.types import Chunk, Hit

FRENCH_ANALYZER = {
    "tokenizer": "standard",
    "filter": ["lowercase", "asciifolding", {"type": "stemmer", "language": "french"},
               {"type": "stop", "stop_words": ["_french_"]}],
}
TERMS_ANALYZER = {"tokenizer": "whitespace", "filter": ["lowercase"]}
_SCALARS = ("kind", "source", "ord", "session_id", "project", "ts_first", "ts_last", "line_start", "line_end",
            "byte_start", "byte_end", "tokens")
_OUT = ["id", "text", "meta", *_SCALARS]
MAX_TEXT = 65535


def _pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError("the Milvus engine needs the extra: pip install 'pisteur[milvus]'") from exc
    return pymilvus


def _q(value: str) -> str:
    """A Milvus string literal."""
    return json.dumps(str(value), ensure_ascii=False)


def _like(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_expr(f: Filters | None) -> str:
    """Milvus boolean expression for pisteur ``Filters`` (same semantics as the local engine's SQL)."""
    if f is None or f.is_empty():
        return ""
    parts = []
    if f.kinds:
        parts.append(f"kind in [{', '.join(_q(k) for k in f.kinds)}]")
    if f.project:
        parts.append(f"project like {_q('%' + _like(f.project) + '%')}")
    if f.session:
        parts.append(f"session_id like {_q(_like(f.session) + '%')}")
    if f.source:
        parts.append(f"source like {_q('%' + _like(f.source) + '%')}")
    if f.date_from:
        parts.append(f"(ts_last >= {_q(f.date_from)} or (ts_last == \"\" and ts_first >= {_q(f.date_from)}))")
    if f.date_to:
        to = f.date_to if len(f.date_to) > 10 else f.date_to + "T23:59:59.999Z"
        parts.append(f"ts_first <= {_q(to)}")
    return " and ".join(parts)


class MilvusStore:
    def __init__(self, uri: str, *, prefix: str = "pisteur", readonly: bool = True, token: str | None = None,
                 db_name: str | None = None) -> None:
        pm = _pymilvus()
        self.uri = uri
        self.prefix = prefix
        self.readonly = readonly
        kwargs: dict[str, Any] = {"uri": uri}
        token = token or os.environ.get("PISTEUR_MILVUS_TOKEN")
        if token:
            kwargs["token"] = token
        if db_name:
            kwargs["db_name"] = db_name
        self.client = pm.MilvusClient(**kwargs)
        self.chunks, self.src, self.meta_c = f"{prefix}_chunks", f"{prefix}_sources", f"{prefix}_meta"
        self._manifest: dict[str, Any] = {}
        if self.client.has_collection(self.meta_c):
            self._load_meta()
        elif readonly:
            raise FileNotFoundError(f"no pisteur collections '{prefix}_*' at {uri} (create with pisteur index)")

    # -- schema ----------------------------------------------------------------------------------
    def create(self, manifest: dict[str, Any]) -> None:
        """Create the collections for ``manifest`` (model dims, ``milvus`` options) if missing."""
        pm = _pymilvus()
        c = self.client
        dims = int(manifest["model"]["dims"])
        opts = manifest.get("milvus", {})
        lexical = opts.get("lexical", "pisteur")
        if not c.has_collection(self.chunks):
            s = c.create_schema(auto_id=False, enable_dynamic_field=False)
            s.add_field("id", pm.DataType.INT64, is_primary=True)
            s.add_field("dense", pm.DataType.FLOAT_VECTOR, dim=dims)
            s.add_field("text", pm.DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
                        analyzer_params=FRENCH_ANALYZER, enable_match=True)
            s.add_field("terms", pm.DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
                        analyzer_params=TERMS_ANALYZER)
            s.add_field("sparse", pm.DataType.SPARSE_FLOAT_VECTOR)
            s.add_field("meta", pm.DataType.JSON)
            for name in ("kind", "session_id", "project", "ts_first", "ts_last"):
                s.add_field(name, pm.DataType.VARCHAR, max_length=512)
            s.add_field("source", pm.DataType.VARCHAR, max_length=4096)
            for name in ("ord", "line_start", "line_end", "byte_start", "byte_end", "tokens"):
                s.add_field(name, pm.DataType.INT64)
            s.add_function(pm.Function(name="bm25", function_type=pm.FunctionType.BM25,
                                       input_field_names=["terms" if lexical == "pisteur" else "text"],
                                       output_field_names=["sparse"]))
            ip = c.prepare_index_params()
            dense = dict(opts.get("dense_index", {"index_type": "FLAT"}))
            ip.add_index("dense", index_type=dense.pop("index_type"), metric_type="IP", params=dense)
            ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
            ip.add_index("source", index_type="INVERTED")
            c.create_collection(self.chunks, schema=s, index_params=ip)
        for name in (self.src, self.meta_c):
            if not c.has_collection(name):
                s = c.create_schema(auto_id=False, enable_dynamic_field=False)
                s.add_field("key", pm.DataType.VARCHAR, is_primary=True, max_length=4096)
                s.add_field("value", pm.DataType.JSON)
                s.add_field("v", pm.DataType.FLOAT_VECTOR, dim=2)
                ip = c.prepare_index_params()
                ip.add_index("v", index_type="FLAT", metric_type="L2")
                c.create_collection(name, schema=s, index_params=ip)
        self._put_meta("manifest", {**manifest, "engine": "milvus"})
        for key, default in (("next_id", 1), ("generation", 0)):
            if self._get_meta(key) is None:
                self._put_meta(key, default)
        self._load_meta()

    def _put_meta(self, key: str, value: Any, collection: str | None = None) -> None:
        self.client.upsert(collection or self.meta_c, [{"key": key, "value": {"v": value}, "v": [0.0, 0.0]}])

    def _get_meta(self, key: str) -> Any:
        rows = self.client.get(self.meta_c, ids=[key], output_fields=["value"])
        return rows[0]["value"]["v"] if rows else None

    def _load_meta(self) -> None:
        for name in (self.chunks, self.src, self.meta_c):
            self.client.load_collection(name)
        self._manifest = self._get_meta("manifest") or {}

    # -- Store protocol --------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        return self._manifest

    def generation(self) -> int:
        return int(self._get_meta("generation") or 0)

    def refresh(self) -> bool:
        self._manifest = self._get_meta("manifest") or self._manifest
        return True

    def sources(self) -> dict[str, SourceState]:
        out = {}
        for row in self._query_all(self.src, "key != \"\"", ["key", "value"]):
            out[row["key"]] = SourceState(**row["value"]["v"])
        return out

    def _query_all(self, collection: str, expr: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        it = self.client.query_iterator(collection, batch_size=1000, filter=expr, output_fields=fields)
        try:
            while True:
                batch = it.next()
                if not batch:
                    return
                yield from batch
        finally:
            it.close()

    def dense_search(self, query: np.ndarray, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        res = self.client.search(self.chunks, data=[np.asarray(query, np.float32).tolist()], anns_field="dense",
                                 limit=k, filter=filter_expr(filters), search_params={"metric_type": "IP"})
        return [(int(h["id"]), float(h["distance"])) for h in res[0]]

    def lexical_search(self, terms: Sequence[str], k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """BM25 over analysed ``terms`` (OR semantics), best first."""
        text = " ".join(t for t in terms if t)
        return self.lexical_search_text(text, k, filters) if text.strip() else []

    def lexical_search_text(self, text: str, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """BM25 with the collection's own analysis of ``text``."""
        res = self.client.search(self.chunks, data=[text], anns_field="sparse", limit=k,
                                 filter=filter_expr(filters), search_params={"metric_type": "BM25"})
        return [(int(h["id"]), float(h["distance"])) for h in res[0]]

    def hybrid_search(self, query: np.ndarray, text: str, k: int, filters: Filters | None = None, *,
                      ranker: str = "rrf", weights: tuple[float, float] = (0.5, 0.5), rrf_k: int = 60,
                      candidates: int | None = None, server_weighted: bool = False) -> list[tuple[int, float]]:
        """Dense + BM25 fused: ``rrf`` (Milvus ``RRFRanker``, server side) or ``weighted``.

        ``weighted`` is fused here, with the normalisation Milvus's ``WeightedRanker`` documents (inner
        product: 0.5 + atan(s)/pi, BM25: 2 atan(s)/pi), because the server-side ranker of Milvus Lite 2.5.1
        normalises BM25 as a distance (measured: weights (0, 1) return the *worst* BM25 matches first).
        ``server_weighted=True`` uses the server's ranker (for a Milvus release where that is fixed)."""
        pm = _pymilvus()
        expr = filter_expr(filters)
        n = candidates or max(k * 4, 50)
        if ranker == "weighted" and not server_weighted:
            dense = self.dense_search(query, n, filters)
            lex = self.lexical_search_text(text, n, filters) if text.strip() else []
            fused: dict[int, float] = {}
            for i, s in dense:
                fused[i] = fused.get(i, 0.0) + weights[0] * (0.5 + float(np.arctan(s)) / np.pi)
            for i, s in lex:
                fused[i] = fused.get(i, 0.0) + weights[1] * (2 * float(np.arctan(s)) / np.pi)
            return sorted(fused.items(), key=lambda t: (-t[1], t[0]))[:k]
        reqs = [pm.AnnSearchRequest(data=[np.asarray(query, np.float32).tolist()], anns_field="dense",
                                    param={"metric_type": "IP"}, limit=n, expr=expr or None),
                pm.AnnSearchRequest(data=[text], anns_field="sparse", param={"metric_type": "BM25"}, limit=n,
                                    expr=expr or None)]
        rk = pm.RRFRanker(rrf_k) if ranker == "rrf" else pm.WeightedRanker(*weights)
        res = self.client.hybrid_search(self.chunks, reqs, rk, limit=k)
        return [(int(h["id"]), float(h["distance"])) for h in res[0]]

    def get(self, ids: Sequence[int]) -> list[Hit]:
        ids = [int(i) for i in ids]
        if not ids:
            return []
        found = {}
        for i in range(0, len(ids), 1000):
            for r in self.client.get(self.chunks, ids=ids[i : i + 1000], output_fields=_OUT):
                found[int(r["id"])] = _hit(r)
        return [found[i] for i in ids if i in found]

    def neighbours(self, chunk_id: int, before: int = 1, after: int = 1) -> list[Hit]:
        rows = self.client.get(self.chunks, ids=[int(chunk_id)], output_fields=["source", "ord"])
        if not rows:
            return []
        src, o = rows[0]["source"], int(rows[0]["ord"])
        got = self.client.query(self.chunks, filter=f"source == {_q(src)} and ord >= {o - before} and "
                                f"ord <= {o + after}", output_fields=_OUT)
        return [_hit(r) for r in sorted(got, key=lambda r: (r["ord"], r["id"]))]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        ids = [int(i) for i in ids]
        dims = int(self._manifest.get("model", {}).get("dims", 0))
        rows = {int(r["id"]): r["dense"] for r in self.client.get(self.chunks, ids=ids, output_fields=["dense"])}
        if any(i not in rows for i in ids):
            raise KeyError("some ids have no stored vector")
        return np.asarray([rows[i] for i in ids], np.float32).reshape(len(ids), dims)

    def iter_chunks(self, with_vectors: bool = False) -> Iterator[Hit]:
        fields = _OUT + (["dense"] if with_vectors else [])
        for r in self._query_all(self.chunks, "id >= 0", fields):
            h = _hit(r)
            if with_vectors:
                h.explain["vector"] = r["dense"]
            yield h

    def stats(self) -> dict[str, Any]:
        n = self.client.query(self.chunks, filter="", output_fields=["count(*)"])[0]["count(*)"]
        s = self.client.query(self.src, filter="", output_fields=["count(*)"])[0]["count(*)"]
        m = self._manifest
        return {"engine": "milvus", "uri": self.uri, "collection": self.chunks, "chunks": int(n),
                "sources": int(s), "model": m.get("model", {}).get("spec"), "dims": m.get("model", {}).get("dims"),
                "generation": self.generation()}

    def writer(self) -> MilvusWriter:
        if self.readonly:
            raise PermissionError("store opened read-only")
        return MilvusWriter(self)

    def close(self) -> None:
        self.client.close()

    def replaced(self) -> bool:
        """A Milvus collection is never swapped under an open client (``Store.replaced``)."""
        return False


def _hit(r: dict[str, Any]) -> Hit:
    meta = dict(r.get("meta") or {})
    for key in ("line_start", "line_end", "ord"):
        v = r.get(key)
        meta[key] = None if v is None or v < 0 else int(v)
    return Hit(id=int(r["id"]), score=0.0, kind=r.get("kind", ""), source=r.get("source", ""),
               text=r.get("text", ""), meta=meta)


class MilvusWriter:
    """Same surface as the local ``StoreWriter`` (``upsert_source``, ``delete_source``, ``set_manifest``,
    ``commit``); ids come from the ``next_id`` counter in ``<p>_meta``."""

    def __init__(self, store: MilvusStore) -> None:
        self.store = store
        self.pending = 0
        self.dirty = False

    def __enter__(self) -> MilvusWriter:
        exists = self.store.client.has_collection(self.store.meta_c)  # not yet on a first run
        self._next = int(self.store._get_meta("next_id") or 1) if exists else 1
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.commit()

    def _delete_chunks(self, path: str, from_offset: int | None = None) -> int:
        expr = f"source == {_q(path)}" + (f" and byte_start >= {int(from_offset)}" if from_offset is not None else "")
        ids = [int(r["id"]) for r in self.store._query_all(self.store.chunks, expr, ["id"])]
        for i in range(0, len(ids), 1000):
            self.store.client.delete(self.store.chunks, ids=ids[i : i + 1000])
        return len(ids)

    def upsert_source(self, state: SourceState, chunks: Sequence[Chunk], vectors: np.ndarray, *,
                      from_offset: int | None = None, reader_version: int = 0,
                      ids: Sequence[int] | None = None, terms: Sequence[str] | None = None) -> list[int]:
        """Replace the chunks of ``state.path`` (or those at/after ``from_offset``); returns the new ids.
        ``ids``/``terms`` let ``pisteur import`` keep the exported ids and analysed terms."""
        from pisteur.text.analysis import analyze

        c = self.store.client
        base_ord = 0
        if from_offset is not None:
            self._delete_chunks(state.path, from_offset)
            left = c.query(self.store.chunks, filter=f"source == {_q(state.path)}", output_fields=["ord"])
            base_ord = max((int(r["ord"]) for r in left), default=-1) + 1
        else:
            self._delete_chunks(state.path)
        if ids is None:
            ids = list(range(self._next, self._next + len(chunks)))
        self._next = max(self._next, max(ids, default=0) + 1)
        vecs = np.asarray(vectors, np.float32)
        rows = []
        for j, ch in enumerate(chunks):
            m = ch.meta
            rows.append({
                "id": int(ids[j]), "dense": vecs[j].tolist(), "text": ch.text[:MAX_TEXT // 4],
                "terms": (terms[j] if terms is not None else " ".join(analyze(ch.text)))[:MAX_TEXT // 4],
                "meta": m, "kind": ch.kind, "source": state.path, "ord": base_ord + j,
                "session_id": str(m.get("session_id") or ""), "project": str(m.get("project") or ""),
                "ts_first": str(m.get("ts_first") or ""), "ts_last": str(m.get("ts_last") or ""),
                "line_start": _int(ch.line_start), "line_end": _int(ch.line_end),
                "byte_start": _int(ch.byte_start), "byte_end": _int(ch.byte_end), "tokens": int(ch.tokens or 0),
            })
        for i in range(0, len(rows), 500):
            c.insert(self.store.chunks, rows[i : i + 500])
        st = dict(state.__dict__)
        st["chunks"] = len(chunks) + (len(left) if from_offset is not None else 0)
        st["reader_version"] = reader_version
        keep = {k: v for k, v in st.items() if k in SourceState.__dataclass_fields__}
        self.store._put_meta(state.path, keep, self.store.src)
        self.pending += len(chunks)
        self.dirty = True
        return [int(i) for i in ids]

    def delete_source(self, path: str) -> int:
        n = self._delete_chunks(path)
        self.store.client.delete(self.store.src, ids=[path])
        self.dirty = True
        return n

    def set_manifest(self, data: dict[str, Any]) -> None:
        self.store.create(data)
        self.dirty = True

    def commit(self, reopen: bool = True) -> None:
        st = self.store
        if self.dirty:
            st._put_meta("next_id", self._next)
            st._put_meta("generation", st.generation() + 1)
            for name in (st.chunks, st.src, st.meta_c):
                st.client.flush(name)
            self.dirty = False


def _int(v: int | None) -> int:
    return -1 if v is None else int(v)


def open_milvus(uri: str, *, prefix: str = "pisteur", readonly: bool = True) -> MilvusStore:
    return MilvusStore(uri, prefix=prefix, readonly=readonly)
