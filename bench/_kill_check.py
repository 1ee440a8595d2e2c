"""The checks of ``bench/kill_loop.py``: is an index sound after a kill -9, did it lose or duplicate anything,
does it equal a clean build. Each reads the index directory only (SQLite read-only, or the store's reader)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

Signature = dict[str, list[tuple[int, str, str]]]


def ro(index: Path) -> sqlite3.Connection:
    """A read-only connection to the index database (never takes a lock a writer could wait on)."""
    return sqlite3.connect(f"file:{index / 'index.sqlite'}?mode=ro", uri=True, timeout=10)


def committed_sources(index: Path) -> dict[str, tuple[str, int]]:
    """{path: (status, chunk rows)} as committed now, read through a plain read-only SQLite connection."""
    if not (index / "index.sqlite").exists():
        return {}
    try:
        con = ro(index)
        try:
            rows = con.execute("SELECT s.path, s.status, (SELECT COUNT(*) FROM chunks c WHERE c.source_id = s.id)"
                               " FROM sources s").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return {}
    return {p: (st, n) for p, st, n in rows}


def generation(index: Path) -> int:
    try:
        with closing(ro(index)) as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    except sqlite3.Error:
        return -1
    return int(row[0]) if row else -1


def kill_phase(index: Path, start_gen: int, sources: int) -> str:
    """Where the killed run was, from what it had committed: before its first commit, read phase (not every
    source of the corpus complete yet), dense phase (chunks still waiting for their vector), or after."""
    if generation(index) == start_gen:
        return "before its first commit"
    with closing(ro(index)) as con:
        done, waiting = con.execute("SELECT (SELECT COUNT(*) FROM sources WHERE status = 'ok'),"
                                    " (SELECT COUNT(*) FROM chunks WHERE dense = 0)").fetchone()
    if done < sources:
        return "read phase"
    return "dense phase" if waiting else "after its last vector"


def problems(index: Path) -> tuple[list[str], list[str]]:
    """(corruption, duplication) problems of an index just after a kill; empty lists when sound."""
    from pisteur.store import open_store

    if not (index / "index.sqlite").exists():
        return [], []
    try:
        with closing(ro(index)) as con:
            check = con.execute("PRAGMA integrity_check").fetchone()[0]
            dup = con.execute("SELECT source_id, ord, COUNT(*) FROM chunks GROUP BY source_id, ord"
                              " HAVING COUNT(*) > 1").fetchall()
            fts = con.execute("SELECT (SELECT COUNT(*) FROM chunks), (SELECT COUNT(*) FROM chunks_fts)").fetchone()
    except sqlite3.Error as exc:
        return [f"index.sqlite: {exc}"], []
    corrupt = [] if check == "ok" else [f"index.sqlite integrity_check: {check}"]
    if fts[0] != fts[1]:
        corrupt.append(f"index.sqlite: {fts[0]} chunks but {fts[1]} lexical rows")
    dups = [f"chunk (source {s}, ord {o}) stored {n} times" for s, o, n in dup]
    try:
        store = open_store(index)
    except Exception as exc:  # any failure to open is what this loop looks for
        return [*corrupt, f"open: {type(exc).__name__}: {exc}"], dups
    try:
        dense = [i for (i,) in store.con.execute("SELECT id FROM chunks WHERE dense = 1")]
        if len(store.vector_index) != len(dense):
            corrupt.append(f"vectors/: {len(store.vector_index)} vectors for {len(dense)} chunks marked dense")
        elif dense:
            store.vectors(dense)
        per_source = Counter(p for (p,) in store.con.execute(
            "SELECT s.path FROM chunks c JOIN sources s ON s.id = c.source_id"))
        for path, st in store.sources().items():
            if st.status != "partial" and st.chunks != per_source.get(path, 0):
                corrupt.append(f"sources: {path} marked {st.status} with {st.chunks} chunks, "
                               f"{per_source.get(path, 0)} stored")
    except Exception as exc:  # idem: a read that fails is a corrupt index
        corrupt.append(f"read: {type(exc).__name__}: {exc}")
    finally:
        store.close()
    return corrupt, dups


def lost(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]], changing: set[str]) -> list[str]:
    """Sources complete before the kill that the run was not meant to change, missing or shrunk after it."""
    out = []
    for path, (status, n) in before.items():
        if status != "ok" or path in changing:
            continue
        got = after.get(path)
        if got is None or got[0] != "ok" or got[1] < n:
            out.append(f"{path}: ok with {n} chunks before the kill, {got or 'absent'} after")
    return out


def signature(index: Path, root: Path) -> tuple[Signature, int, int]:
    """(chunks per source relative to ``root`` as (ord, kind, text), chunk count, vector count)."""
    from pisteur.store import open_store

    store = open_store(index)
    try:
        sig: Signature = {}
        for path, o, kind, text in store.con.execute(
                "SELECT s.path, c.ord, c.kind, c.text FROM chunks c JOIN sources s ON s.id = c.source_id"):
            sig.setdefault(str(Path(path).relative_to(root)), []).append((o, kind, text))
        for rows in sig.values():
            rows.sort()
        n = store.con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return sig, n, len(store.vector_index)
    finally:
        store.close()


def diff(got: tuple[Signature, int, int], want: tuple[Signature, int, int]) -> list[str]:
    out = []
    if set(got[0]) != set(want[0]):
        out.append(f"sources differ: extra {sorted(set(got[0]) - set(want[0]))}, "
                   f"missing {sorted(set(want[0]) - set(got[0]))}")
    out += [f"{p}: {len(got[0][p])} chunks vs {len(rows)} in a clean build, or other texts"
            for p, rows in want[0].items() if p in got[0] and got[0][p] != rows]
    if got[2] != got[1]:
        out.append(f"{got[2]} vectors for {got[1]} chunks")
    return out
