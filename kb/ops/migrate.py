"""`kb migrate`: copy a base between the embedded and the server backend, without re-embedding.

`--to postgres+milvus`: every case, chunk (with its stored vector and tokens), manual (the
file and its passages), feedback, draft and audit event is copied with its id into
PostgreSQL in one transaction, the manifest's model, analyser and fusion calibration with
them; Milvus is then rebuilt from PostgreSQL, as `kb check` would. The SQLite base is
only read.

`--to sqlite`: the same rows back from PostgreSQL (one repeatable-read snapshot, so a
writer on another app server cannot tear the copy) into a new SQLite base in one
transaction; FAISS and the lexical files are derived from it at its first open.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kb.errors import KnowledgeBaseError
from kb.index.milvus_sync import MilvusIndexes
from kb.settings import Settings
from kb.storage import audit
from kb.storage.database import Database, marks
from kb.storage.layout import CASES_KEY, DOCS_KEY, Layout
from kb.storage.postgres import REBUILD_KEY, PgStore
from kb.storage.schema import SCHEMA_VERSION

# Copied tables, in an order that satisfies their references.
TABLES = ("cases", "chunks", "chunks_fts", "documents", "doc_chunks", "doc_chunks_fts",
          "feedback", "drafts", "audit_log")
MANIFEST_KEYS = ("model", "dim", "analyser", "created_at", "fusion_dense_prior",
                 "fusion_calibration")
_BATCH = 5000


@dataclass(frozen=True)
class MigrateReport:
    """What was copied, and what was left behind."""

    rows: dict[str, int]
    state_version: int


def migrate_to_servers(root: Path) -> MigrateReport:
    """Copy the SQLite base at `root` into KB_POSTGRES_URL (empty) and rebuild KB_MILVUS_URI."""
    settings = Settings.from_env()
    if not (settings.postgres_url and settings.milvus_uri):
        raise KnowledgeBaseError("kb migrate --to postgres+milvus needs KB_POSTGRES_URL and "
                                 "KB_MILVUS_URI (see README: Running for many teams)")
    database = Layout(root).database
    if not database.exists():
        raise KnowledgeBaseError(f"no knowledge base at {root} to migrate (no {database.name})")
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    target = PgStore(settings.postgres_url)
    try:
        if not target.is_empty():
            raise KnowledgeBaseError("the PostgreSQL database already holds a knowledge base: "
                                     "migrate into an empty database")
        lock = target.writer_lock()
        with lock():
            report = _copy(source, target)
            indexes = MilvusIndexes(Layout(root), target, target.documents(),
                                    int(target.manifest().dim), lock, settings.milvus_uri)
            try:
                indexes.catch_up()  # the copy asked for a rebuild
            finally:
                indexes.close()
        return report
    finally:
        source.close()
        target.close()


def _copy(source: sqlite3.Connection, target: PgStore) -> MigrateReport:
    """One PostgreSQL transaction: the manifest, then every table in batches."""
    manifest = dict(source.execute("SELECT key, value FROM manifest").fetchall())
    if int(manifest.get("schema_version", 0)) != SCHEMA_VERSION:
        raise KnowledgeBaseError("open the base once with this version of kb before migrating "
                                 "it (its schema is older)")
    counts: dict[str, int] = {}
    with target.transaction() as db:
        target.set_manifest(**{k: manifest[k] for k in MANIFEST_KEYS if k in manifest})
        for table in TABLES:
            columns = target.columns(table)
            cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
            counts[table] = 0
            while rows := cursor.fetchmany(_BATCH):
                target.copy_rows(table, columns, rows)
                counts[table] += len(rows)
        target.reset_sequences()
        target.mark_index_changed(CASES_KEY)
        target.mark_index_changed(DOCS_KEY)
        target.set_manifest(**{REBUILD_KEY: target.pending_version})
        audit.record(db, "migrate", "postgres+milvus", _audited(counts))
        version = target.pending_version
    return MigrateReport(counts, version)


def _audited(counts: dict[str, int]) -> dict[str, int]:
    return {"cases": counts["cases"], "chunks": counts["chunks"], "manuals": counts["documents"]}


def migrate_to_sqlite(root: Path) -> MigrateReport:
    """Copy the base in KB_POSTGRES_URL into a new SQLite base at `root` (Milvus is not read:
    it is derived, and FAISS is rebuilt from the copied vectors instead)."""
    settings = Settings.from_env()
    if not settings.postgres_url:
        raise KnowledgeBaseError("kb migrate --to sqlite needs KB_POSTGRES_URL, the base to copy")
    layout = Layout(root)
    if layout.database.exists():
        raise KnowledgeBaseError(f"{root} already holds a knowledge base ({layout.database.name}): "
                                 "migrate into a new directory")
    source = PgStore(settings.postgres_url)  # checks the URL and the schema
    try:
        if source.is_empty():
            raise KnowledgeBaseError("the PostgreSQL database holds no knowledge base to migrate")
        root.mkdir(parents=True, exist_ok=True)
        target = Database(layout.database)
        try:
            return _copy_back(source, target)
        except BaseException:
            target.close()
            for leftover in (layout.database, *(layout.database.with_name(
                    layout.database.name + end) for end in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)  # nothing half-copied is left to open
            raise
        finally:
            target.close()
    finally:
        source.close()


def _copy_back(source: PgStore, target: Database) -> MigrateReport:
    """One SQLite transaction filled from one PostgreSQL snapshot, table by table."""
    counts: dict[str, int] = dict.fromkeys(TABLES, 0)
    with target.transaction() as db:
        for table, columns, rows in source.dump(TABLES, _BATCH):
            if table == "manifest":
                manifest = dict(rows)
                target.set_manifest(**{k: manifest[k] for k in MANIFEST_KEYS if k in manifest})
                continue
            db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                           f"VALUES ({marks(len(columns))})", rows)
            counts[table] += len(rows)
        target.mark_index_changed(CASES_KEY)
        target.mark_index_changed(DOCS_KEY)
        audit.record(db, "migrate", "sqlite", _audited(counts))
        version = target.pending_version
    return MigrateReport(counts, version)
