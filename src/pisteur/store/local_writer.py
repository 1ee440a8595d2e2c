"""Writing to the local engine: sources streamed in batches, vectors added when they exist.

A source is written in three steps (``begin_source`` / ``add_chunks`` ... / ``end_source``) so a long file is
committed every few hundred chunks: until ``end_source`` its row says ``partial`` and the next run redoes
it (its chunks are replaced, never duplicated). A chunk is stored with its lexical terms at once and with a
vector when one is known (the same text was embedded before: the content-hash cache); the others wait for
the dense pass (``pending`` / ``set_vectors``). ``upsert_source`` keeps the one-call form with vectors.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pisteur.store import manifest as mf
from pisteur.store.base import DENSE_DONE, DENSE_FAILED, DENSE_PENDING, SourceState, dense_priority, text_hash
from pisteur.store.lock import WriterLock
from pisteur.types import Chunk

if TYPE_CHECKING:
    from pisteur.store.local import LocalStore

_COLUMNS = ("session_id", "project", "ts_first", "ts_last")


def _rowid(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just wrote (sqlite3 sets it after every successful INSERT)."""
    if cur.lastrowid is None:
        raise sqlite3.DatabaseError("the INSERT returned no row id")
    return cur.lastrowid


def _storable(text: str) -> str:
    """SQLite stores UTF-8: a lone surrogate (a cut emoji written by Node as ``\\ud83d``) becomes U+FFFD
    instead of failing the whole file."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


@dataclass
class SourceWrite:
    """A source being written: its row id, where its new chunks' ``ord`` starts, and the vectors of its
    previous chunks (by text hash) so unchanged texts keep their vector."""

    sid: int
    path: str
    next_ord: int
    carry: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class PendingChunk:
    id: int
    text: str
    text_hash: str
    path: str
    tokens: int = 0


class StoreWriter:
    """Holds the writer lock; work is committed with ``commit()`` (vectors first, then SQLite)."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store
        self.lock = WriterLock(store.dir)
        self._open = False
        self.pending = 0
        self.dirty = False

    def __enter__(self) -> StoreWriter:
        self.lock.acquire()
        self._clean_tmp()
        self.store.refresh()
        self._begin()
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                self.commit(reopen=False)
            elif self._open:
                self.store.con.execute("ROLLBACK")
                self._open = False
        finally:
            self.lock.release()

    def _clean_tmp(self) -> None:
        """Temporary files of a writer killed between write and rename (we hold the lock: none is live)."""
        for d in (self.store.dir, self.store.dir / "vectors"):
            if d.is_dir():
                for p in d.glob("*.tmp"):
                    p.unlink(missing_ok=True)

    def _begin(self) -> None:
        self.store.con.execute("BEGIN IMMEDIATE")
        self._open = True
        self.pending = 0
        self.dirty = False

    def commit(self, reopen: bool = True) -> None:
        """Flush vectors at generation+1, then commit SQLite (the order is the crash-safety contract).
        A transaction that changed nothing commits without a new generation (caches stay valid)."""
        if not self._open:
            return
        con = self.store.con
        if self.dirty:
            gen = self.store.generation() + 1
            self.store.vector_index.flush(gen)
            con.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(gen),))
            self.store._gen = gen
        con.execute("COMMIT")
        self._open = False
        if reopen:
            self._begin()

    # -- sources ---------------------------------------------------------------------------------
    def _source_id(self, path: str) -> int | None:
        row = self.store.con.execute("SELECT id FROM sources WHERE path=?", (path,)).fetchone()
        return row[0] if row else None

    def _drop_chunks(self, source_id: int, from_offset: int | None = None) -> int:
        con = self.store.con
        cond, args = "source_id=?", [source_id]
        if from_offset is not None:
            cond += " AND byte_start >= ?"
            args.append(from_offset)
        rows = con.execute(f"SELECT id, dense FROM chunks WHERE {cond}", args).fetchall()
        ids = [r[0] for r in rows]
        for i in range(0, len(ids), 900):
            part = ids[i : i + 900]
            marks = ",".join("?" * len(part))
            con.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})", part)
            con.execute(f"DELETE FROM chunks WHERE id IN ({marks})", part)
        with_vec = [i for i, d in rows if d == DENSE_DONE]
        if with_vec:
            self.store.vector_index.remove(np.asarray(with_vec, np.int64))
        if ids:
            self.dirty = True
        return len(ids)

    def _reconstruct(self, ids_by_hash: dict[str, int]) -> dict[str, np.ndarray]:
        """Vectors of these chunks, by hash; a vector not readable yet (added in this transaction) is
        simply not returned (its chunk stays pending and the dense pass deduplicates it)."""
        out: dict[str, np.ndarray] = {}
        if not ids_by_hash:
            return out
        hashes = list(ids_by_hash)
        try:
            vecs = self.store.vector_index.reconstruct(np.asarray([ids_by_hash[h] for h in hashes], np.int64))
            return dict(zip(hashes, vecs, strict=True))
        except NotImplementedError:  # a vector layer that cannot give vectors back: no reuse
            return out
        except KeyError:
            for h in hashes:
                try:
                    out[h] = self.store.vector_index.reconstruct(np.asarray([ids_by_hash[h]], np.int64))[0]
                except KeyError:
                    continue
        return out

    def known_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of any chunk whose text has one of these hashes (the content-hash cache)."""
        found: dict[str, int] = {}
        uniq = list(dict.fromkeys(hashes))
        for i in range(0, len(uniq), 900):
            part = uniq[i : i + 900]
            rows = self.store.con.execute(
                f"SELECT text_hash, MIN(id) FROM chunks WHERE dense={DENSE_DONE} AND text_hash IN "
                f"({','.join('?' * len(part))}) GROUP BY text_hash", part).fetchall()
            found.update({h: int(i) for h, i in rows})
        return self._reconstruct(found)

    def begin_source(self, state: SourceState, *, from_offset: int | None = None,
                     reader_version: int = 0) -> SourceWrite:
        """Start (re)writing a source: its old chunks (all, or those at/after ``from_offset``) go, their
        vectors are kept aside by text hash, and its row says ``partial`` until ``end_source``."""
        con = self.store.con
        sid = self._source_id(state.path)
        carry: dict[str, np.ndarray] = {}
        row = (state.size, state.mtime_ns, state.fingerprint, state.reader, reader_version, None, "partial", "",
               time.strftime("%Y-%m-%dT%H:%M:%S"))
        if sid is None:
            sid = _rowid(con.execute(
                "INSERT INTO sources (size, mtime_ns, fingerprint, reader, reader_version, resume_offset,"
                " status, reason, indexed_at, path) VALUES (?,?,?,?,?,?,?,?,?,?)", (*row, state.path)
            ))
        else:
            cond, args = "", []
            if from_offset is not None:
                cond, args = " AND byte_start >= ?", [from_offset]
            old = con.execute(f"SELECT text_hash, MIN(id) FROM chunks WHERE source_id=? AND dense={DENSE_DONE}"
                              f"{cond} GROUP BY text_hash", [sid, *args]).fetchall()
            carry = self._reconstruct({h: int(i) for h, i in old if h})
            self._drop_chunks(sid, from_offset)
            con.execute("UPDATE sources SET size=?, mtime_ns=?, fingerprint=?, reader=?, reader_version=?,"
                        " resume_offset=?, status=?, reason=?, indexed_at=? WHERE id=?", (*row, sid))
        nxt = con.execute("SELECT COALESCE(MAX(ord)+1, 0) FROM chunks WHERE source_id=?", (sid,)).fetchone()[0]
        self.dirty = True
        return SourceWrite(sid=int(sid), path=state.path, next_ord=int(nxt), carry=carry)

    def add_chunks(self, src: SourceWrite, chunks: Sequence[Chunk], vectors: np.ndarray | None = None) -> int:
        """Store chunks with their lexical terms; with a vector when given, or when the same text already
        has one (returns how many got a vector)."""
        from pisteur.text.analysis import analyze

        con = self.store.con
        hashes = [text_hash(ch.text) for ch in chunks]
        known: dict[str, np.ndarray] = {}
        if vectors is None:
            known = {h: src.carry[h] for h in hashes if h in src.carry}
            rest = [h for h in hashes if h not in known]
            if rest:
                known.update(self.known_vectors(rest))
        vec_ids: list[int] = []
        vecs: list[np.ndarray] = []
        for j, (ch, h) in enumerate(zip(chunks, hashes, strict=True)):
            vec = vectors[j] if vectors is not None else known.get(h)
            cols = [ch.meta.get(c) for c in _COLUMNS]
            cid = _rowid(con.execute(
                "INSERT INTO chunks (source_id, ord, kind, text, meta, session_id, project, ts_first, ts_last,"
                " line_start, line_end, byte_start, byte_end, tokens, text_hash, dense, prio)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (src.sid, src.next_ord, ch.kind, _storable(ch.text),
                 _storable(json.dumps(ch.meta, ensure_ascii=False)), *cols, ch.line_start, ch.line_end,
                 ch.byte_start, ch.byte_end, ch.tokens, h, DENSE_PENDING if vec is None else DENSE_DONE,
                 dense_priority(ch.kind)),
            ))
            src.next_ord += 1
            con.execute("INSERT INTO chunks_fts (rowid, terms) VALUES (?, ?)",
                        (cid, _storable(" ".join(analyze(ch.text)))))
            if vec is not None:
                vec_ids.append(int(cid))
                vecs.append(np.asarray(vec, np.float32))
        if vec_ids:
            self.store.vector_index.add(np.asarray(vec_ids, np.int64), np.stack(vecs))
        self.pending += len(chunks)
        self.dirty = True
        return len(vec_ids)

    def end_source(self, src: SourceWrite, state: SourceState) -> None:
        """The source is complete: record its final state (``ok`` or ``skipped``) and chunk count."""
        con = self.store.con
        total = con.execute("SELECT COUNT(*) FROM chunks WHERE source_id=?", (src.sid,)).fetchone()[0]
        con.execute("UPDATE sources SET resume_offset=?, status=?, reason=?, chunks=? WHERE id=?",
                    (state.resume_offset, state.status, _storable(state.reason), total, src.sid))
        self.dirty = True

    def upsert_source(self, state: SourceState, chunks: Sequence[Chunk], vectors: np.ndarray | None, *,
                      from_offset: int | None = None, reader_version: int = 0) -> None:
        """Replace a source's chunks (all, or those at/after ``from_offset``: the appended-file case) and
        record its state, in one call. ``vectors=None``: chunks wait for the dense pass."""
        src = self.begin_source(state, from_offset=from_offset, reader_version=reader_version)
        if chunks:
            self.add_chunks(src, chunks, vectors)
        self.end_source(src, state)

    def mark_skipped(self, state: SourceState, reason: str, reader_version: int = 0) -> None:
        """A source that failed: no chunks, status ``skipped`` with a one-line reason (listed by status)."""
        state.status, state.reason, state.resume_offset = "skipped", reason, None
        self.upsert_source(state, [], None, reader_version=reader_version)

    def delete_source(self, path: str) -> int:
        sid = self._source_id(path)
        if sid is None:
            return 0
        n = self._drop_chunks(sid)
        self.store.con.execute("DELETE FROM sources WHERE id=?", (sid,))
        self.dirty = True
        return n

    # -- dense pass ------------------------------------------------------------------------------
    def pending_chunks(self, limit: int) -> list[PendingChunk]:
        """Chunks waiting for a vector, best first: by kind priority, then newest first."""
        rows = self.store.con.execute(
            "SELECT c.id, c.text, c.text_hash, s.path, c.tokens FROM chunks c JOIN sources s ON s.id = c.source_id"
            f" WHERE c.dense={DENSE_PENDING} ORDER BY c.prio, COALESCE(c.ts_last, c.ts_first, '') DESC,"
            " c.source_id DESC, c.ord LIMIT ?", (limit,)).fetchall()
        return [PendingChunk(int(i), t, h or text_hash(t), p, int(n or 0)) for i, t, h, p, n in rows]

    def set_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if not len(ids):
            return
        self.store.vector_index.add(np.asarray(ids, np.int64), np.asarray(vectors, np.float32))
        self._set_dense(ids, DENSE_DONE)
        self.pending += len(ids)

    def mark_dense_failed(self, ids: Sequence[int]) -> None:
        """The embedder failed on these chunks themselves: they stay lexical only (not retried)."""
        self._set_dense(ids, DENSE_FAILED)

    def _set_dense(self, ids: Sequence[int], value: int) -> None:
        ids = [int(i) for i in ids]
        for i in range(0, len(ids), 900):
            part = ids[i : i + 900]
            self.store.con.execute(f"UPDATE chunks SET dense=? WHERE id IN ({','.join('?' * len(part))})",
                                   [value, *part])
        self.dirty = True

    # -- index-wide ------------------------------------------------------------------------------
    def reanalyze(self) -> int:
        """Rebuild the lexical terms of every chunk (after an analyser change); vectors are untouched."""
        from pisteur.text.analysis import analyze

        con = self.store.con
        con.execute("DELETE FROM chunks_fts")
        n = 0
        for cid, text in con.execute("SELECT id, text FROM chunks ORDER BY id").fetchall():
            con.execute("INSERT INTO chunks_fts (rowid, terms) VALUES (?, ?)", (cid, " ".join(analyze(text))))
            n += 1
        self.dirty = True
        return n

    def set_manifest(self, data: dict[str, object]) -> None:
        """Write the manifest; call before adding chunks (the vector layer is re-opened for its settings)."""
        mf.write(self.store.dir, data)
        self.store._manifest = mf.read(self.store.dir) or dict(data)
        self.store._vec = None
        self.store.refresh()
        self.dirty = True
