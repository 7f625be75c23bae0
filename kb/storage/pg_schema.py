"""PostgreSQL schema of a shared base: the SQLite tables, column for column, plus the outbox.

Same table and column names as kb/storage/schema.py, so the record-store code reads both
(kb/storage/postgres.py translates only the placeholders and SQLite's upsert spelling).
The FTS5 tables become plain tables of tokens keyed by `rowid` (Milvus does the BM25);
`index_outbox` lists, per state version, the chunks a write added or removed, so Milvus
is brought up to PostgreSQL after the commit, and again after a crash in between.
"""

from __future__ import annotations

from kb.storage.schema import SCHEMA_VERSION

TABLES = """
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    id TEXT PRIMARY KEY, date TEXT, title TEXT NOT NULL DEFAULT '', content TEXT NOT NULL,
    customer_request TEXT NOT NULL DEFAULT '', cause TEXT NOT NULL DEFAULT '',
    response TEXT NOT NULL DEFAULT '', prevention TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '', product TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL DEFAULT '', severity TEXT NOT NULL DEFAULT '', escalated INTEGER,
    status TEXT NOT NULL DEFAULT '', metadata TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT '', fingerprint TEXT NOT NULL, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, retired_at TEXT);
CREATE INDEX IF NOT EXISTS cases_date ON cases(date);
CREATE INDEX IF NOT EXISTS cases_category ON cases(category);
CREATE INDEX IF NOT EXISTS cases_product ON cases(product);
CREATE INDEX IF NOT EXISTS cases_retired ON cases(retired_at);
-- A sequence never hands an id out twice: chunk ids are Milvus primary keys.
CREATE TABLE IF NOT EXISTS chunks (
    id BIGSERIAL PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id), part TEXT NOT NULL,
    ord INTEGER NOT NULL, text TEXT NOT NULL, text_hash TEXT NOT NULL, vector BYTEA);
CREATE INDEX IF NOT EXISTS chunks_case ON chunks(case_id);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(text_hash);
CREATE TABLE IF NOT EXISTS chunks_fts (
    rowid BIGINT PRIMARY KEY, primary_text TEXT NOT NULL DEFAULT '',
    secondary_text TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS feedback (
    id BIGSERIAL PRIMARY KEY, query TEXT NOT NULL, query_vector BYTEA, case_id TEXT NOT NULL,
    helpful INTEGER NOT NULL, rank INTEGER, mode TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, file_type TEXT NOT NULL, sha256 TEXT NOT NULL,
    pages INTEGER, size INTEGER NOT NULL, content BYTEA NOT NULL,
    warnings TEXT NOT NULL DEFAULT '[]', ocr_pages TEXT NOT NULL DEFAULT '[]',
    needs_ocr_pages TEXT NOT NULL DEFAULT '[]', added_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, last_retrieved_at TEXT);
CREATE TABLE IF NOT EXISTS doc_chunks (
    id BIGSERIAL PRIMARY KEY, document_id TEXT NOT NULL REFERENCES documents(id),
    ord INTEGER NOT NULL, text TEXT NOT NULL, page_start INTEGER, page_end INTEGER,
    heading_path TEXT NOT NULL DEFAULT '[]', text_hash TEXT NOT NULL, vector BYTEA);
CREATE TABLE IF NOT EXISTS doc_chunks_fts (
    rowid BIGINT PRIMARY KEY, heading TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS drafts (id TEXT PRIMARY KEY, data TEXT NOT NULL,
    updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
    id BIGSERIAL PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '', counts TEXT NOT NULL DEFAULT '{}',
    detail TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS index_outbox (
    seq BIGSERIAL PRIMARY KEY, version BIGINT NOT NULL, chunk_id BIGINT NOT NULL,
    op TEXT NOT NULL);  -- 'put' or 'remove'
CREATE INDEX IF NOT EXISTS index_outbox_version ON index_outbox(version);
"""

# Primary key of each table SQLite's `INSERT OR REPLACE` is used on (manifest, drafts).
UPSERT_KEYS = {"manifest": ("key", ("value",)), "drafts": ("id", ("data", "updated_at"))}

MIGRATION_LOCK = 0x6B62_0001  # advisory lock: two processes opening a new base create it once


def migrate(execute: object) -> None:
    """Create the tables once (under a transaction-scoped advisory lock) and record the
    schema version the SQLite base of the same program would have."""
    execute("BEGIN")
    try:
        execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        execute(TABLES)
        execute("INSERT INTO manifest VALUES ('schema_version', %s) ON CONFLICT (key) DO NOTHING",
                (str(SCHEMA_VERSION),))
        execute("COMMIT")
    except BaseException:
        execute("ROLLBACK")
        raise
