"""SQLite schema as numbered migrations; the manifest table records which ran."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable


def m001_initial() -> str:
    """Cases, their chunks (with vectors), the FTS5 index over chunk tokens."""
    return """
        CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE cases (
            id TEXT PRIMARY KEY,
            date TEXT,
            title TEXT NOT NULL DEFAULT '',
            content TEXT NOT NULL,
            customer_request TEXT NOT NULL DEFAULT '',
            cause TEXT NOT NULL DEFAULT '',
            response TEXT NOT NULL DEFAULT '',
            prevention TEXT NOT NULL DEFAULT '',
            category TEXT NOT NULL DEFAULT '',
            product TEXT NOT NULL DEFAULT '',
            channel TEXT NOT NULL DEFAULT '',
            severity TEXT NOT NULL DEFAULT '',
            escalated INTEGER,
            status TEXT NOT NULL DEFAULT '',
            metadata TEXT NOT NULL DEFAULT '{}',
            source TEXT NOT NULL DEFAULT '',
            fingerprint TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX cases_date ON cases(date);
        CREATE INDEX cases_category ON cases(category);
        CREATE INDEX cases_product ON cases(product);
        CREATE INDEX cases_channel ON cases(channel);
        -- AUTOINCREMENT: chunk ids are FAISS ids and must never be reused.
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id TEXT NOT NULL REFERENCES cases(id),
            part TEXT NOT NULL,            -- 'complaint' or 'resolution'
            ord INTEGER NOT NULL,
            text TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            vector BLOB                     -- float32, unit length; NULL when not embedded
        );
        CREATE INDEX chunks_case ON chunks(case_id);
        CREATE INDEX chunks_hash ON chunks(text_hash);
        -- Tokens come pre-segmented by kb.analyser; column 0 = complaint text,
        -- column 1 = resolution text (weighted lower at query time).
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            primary_text, secondary_text, tokenize = 'unicode61 remove_diacritics 0'
        );
    """


def m002_feedback() -> str:
    """Staff feedback on results: helpful or not, with the query that produced them."""
    return """
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            query TEXT NOT NULL,
            query_vector BLOB,            -- float32, same model as the chunks
            case_id TEXT NOT NULL,
            helpful INTEGER NOT NULL,     -- 1 helpful, 0 not helpful
            rank INTEGER,
            mode TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE INDEX feedback_case ON feedback(case_id);
    """


def m003_documents() -> str:
    """Manuals: the file itself (to open a cited page), its passages with page and headings."""
    return """
        CREATE TABLE documents (
            id TEXT PRIMARY KEY,              -- the file name: a new upload of it replaces it
            title TEXT NOT NULL,
            file_type TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            pages INTEGER,
            size INTEGER NOT NULL,
            content BLOB NOT NULL,
            warnings TEXT NOT NULL DEFAULT '[]',
            ocr_pages TEXT NOT NULL DEFAULT '[]',
            needs_ocr_pages TEXT NOT NULL DEFAULT '[]',
            added_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_retrieved_at TEXT
        );
        CREATE TABLE doc_chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id TEXT NOT NULL REFERENCES documents(id),
            ord INTEGER NOT NULL,
            text TEXT NOT NULL,
            page_start INTEGER,
            page_end INTEGER,
            heading_path TEXT NOT NULL DEFAULT '[]',
            text_hash TEXT NOT NULL,
            vector BLOB
        );
        CREATE INDEX doc_chunks_document ON doc_chunks(document_id);
        CREATE INDEX doc_chunks_hash ON doc_chunks(text_hash);
        CREATE VIRTUAL TABLE doc_chunks_fts USING fts5(
            heading, body, tokenize = 'unicode61 remove_diacritics 0'
        );
    """


def m004_retire_and_drafts() -> str:
    """Retired cases stay stored (restorable) but leave the indexes; form drafts survive reloads."""
    return """
        ALTER TABLE cases ADD COLUMN retired_at TEXT;   -- NULL: active
        CREATE INDEX cases_retired ON cases(retired_at);
        CREATE TABLE drafts (
            id TEXT PRIMARY KEY,            -- a random token kept in the page's URL
            data TEXT NOT NULL,             -- JSON of the form's fields
            updated_at TEXT NOT NULL
        );
    """


def m005_audit_log() -> str:
    """Who changed the knowledge base, when, what and how much (kb/storage/audit.py).

    Numbered 5: it was written beside number 4 (retiring cases), which landed after it.
    """
    return """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,                 -- ISO 8601, UTC
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            counts TEXT NOT NULL DEFAULT '{}',  -- JSON {name: number}
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX audit_log_at ON audit_log(at);
    """


# Numbered by name (m001 -> 1); numbers may have gaps and a gap may be filled later: the
# manifest lists which numbers ran, so a migration merged late still runs once.
MIGRATIONS: list[Callable[[], str]] = [m001_initial, m002_feedback, m003_documents,
                                       m004_retire_and_drafts, m005_audit_log]


def migration_number(migration: Callable[[], str]) -> int:
    return int(migration.__name__[1:4])


def applied_migrations(db: sqlite3.Connection) -> set[int]:
    """Numbers already run; bases from before the list existed ran 1..schema_version."""
    rows = dict(db.execute("SELECT key, value FROM manifest WHERE key IN "
                           "('migrations', 'schema_version')").fetchall())
    if "migrations" in rows:
        return set(json.loads(rows["migrations"]))
    return set(range(1, int(rows.get("schema_version", 0)) + 1))


def migrate(db: sqlite3.Connection) -> None:
    """Run the migrations this database has not seen yet, each in its own transaction.

    `db` must be in autocommit mode (isolation_level=None).
    """
    db.execute("CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    known = {migration_number(m): m for m in MIGRATIONS}
    applied = applied_migrations(db)
    if newer := sorted(applied - set(known)):
        raise RuntimeError(
            f"this knowledge base has schema migration(s) {newer}, newer than this program "
            f"understands (up to {max(known)}); upgrade the program"
        )
    for number in sorted(set(known) - applied):
        applied.add(number)
        # One script = one transaction (executescript would commit a pending one first).
        script = (f"BEGIN IMMEDIATE;\n{known[number]()}\nINSERT OR REPLACE INTO manifest "
                  f"VALUES ('schema_version', '{max(applied)}');\nINSERT OR REPLACE INTO manifest "
                  f"VALUES ('migrations', '{json.dumps(sorted(applied))}');\nCOMMIT;")
        try:
            db.executescript(script)
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


SCHEMA_VERSION = max(migration_number(m) for m in MIGRATIONS)
