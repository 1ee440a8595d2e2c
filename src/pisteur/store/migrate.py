"""Schema migrations of the local engine's SQLite file, in place.

Schema 2 adds three columns to ``chunks``: ``text_hash`` (content hash), ``dense`` (has a vector yet?) and
``prio`` (dense-pass order). An index written by an older pisteur had a vector for every chunk, so its
chunks are marked dense; hashes and priorities are computed from the stored texts.
"""

from __future__ import annotations

import sqlite3

from pisteur.store.base import DENSE_DONE, dense_priority, text_hash

NEW_COLUMNS = (("text_hash", "TEXT"), ("dense", "INTEGER NOT NULL DEFAULT 0"),
               ("prio", "INTEGER NOT NULL DEFAULT 0"))
INDEXES = (
    "CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(text_hash)",
    "CREATE INDEX IF NOT EXISTS chunks_pending ON chunks(prio, id) WHERE dense = 0",
)


def needs_migration(con: sqlite3.Connection) -> bool:
    cols = {r[1] for r in con.execute("PRAGMA table_info(chunks)")}
    return bool(cols) and "text_hash" not in cols


def migrate(con: sqlite3.Connection) -> int:
    """Bring ``chunks`` to schema 2 in one transaction; returns the number of chunks migrated (0 if the
    file was already current). The caller holds the writer lock."""
    if not needs_migration(con):
        ensure_indexes(con)
        return 0
    con.execute("BEGIN IMMEDIATE")
    try:
        for name, decl in NEW_COLUMNS:
            con.execute(f"ALTER TABLE chunks ADD COLUMN {name} {decl}")
        rows = con.execute("SELECT id, kind, text FROM chunks").fetchall()
        con.executemany("UPDATE chunks SET text_hash=?, prio=?, dense=? WHERE id=?",
                        [(text_hash(t), dense_priority(k), DENSE_DONE, i) for i, k, t in rows])
        for sql in INDEXES:
            con.execute(sql)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def ensure_indexes(con: sqlite3.Connection) -> None:
    for sql in INDEXES:
        con.execute(sql)
