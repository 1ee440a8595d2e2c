PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  reader TEXT NOT NULL,
  reader_version INTEGER NOT NULL DEFAULT 0,
  resume_offset INTEGER,
  chunks INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'ok',
  reason TEXT NOT NULL DEFAULT '',
  indexed_at TEXT NOT NULL
);
-- AUTOINCREMENT: chunk ids are never reused, so the vector layer can key on them safely.
-- text_hash: content hash of the text (identical texts share one vector, unchanged texts are never
-- re-embedded). dense: 0 lexical only, waiting for its vector; 1 has a vector; 2 the embedder failed on
-- it (lexical only). prio: dense-pass order, lower first (conversation turns and documents before
-- thinking and tool outputs). Comments stay outside CREATE TABLE: SQLite keeps its text verbatim.
CREATE TABLE IF NOT EXISTS chunks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source_id INTEGER NOT NULL REFERENCES sources(id),
  ord INTEGER NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  meta TEXT NOT NULL DEFAULT '{}',
  session_id TEXT,
  project TEXT,
  ts_first TEXT,
  ts_last TEXT,
  line_start INTEGER,
  line_end INTEGER,
  byte_start INTEGER,
  byte_end INTEGER,
  tokens INTEGER NOT NULL DEFAULT 0,
  text_hash TEXT,
  dense INTEGER NOT NULL DEFAULT 0,
  prio INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source_id, ord);
CREATE INDEX IF NOT EXISTS chunks_session ON chunks(session_id);
CREATE INDEX IF NOT EXISTS chunks_kind ON chunks(kind);
CREATE INDEX IF NOT EXISTS chunks_ts ON chunks(ts_first);
-- Lexical index over terms analysed in Python (French elision, folding, stemming: FTS5 has no French
-- stemmer); the tokenizer only splits on what the analyser never emits inside a term.
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
  terms, tokenize = "unicode61 remove_diacritics 0 tokenchars '_-./:#@'"
);
-- Indexes over the columns added in schema 2 are created by the store after migrating an older index
-- (store/migrate.py), since CREATE INDEX on a missing column would fail here.
