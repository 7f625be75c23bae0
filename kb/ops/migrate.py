"""`kb migrate --to postgres+milvus`: copy an embedded base into the servers, without re-embedding.

Every case, chunk (with its stored vector and tokens), feedback, draft and audit event is
copied with its id into PostgreSQL in one transaction, the manifest's model, analyser and
fusion calibration with them; Milvus is then rebuilt from PostgreSQL, as `kb check` would.
The SQLite base is only read. Manuals are not copied: the server backend does not hold
manuals yet (the report counts them). The other way, back to SQLite, is not built yet.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kb.errors import KnowledgeBaseError
from kb.index.milvus_sync import MilvusIndexes
from kb.settings import Settings
from kb.storage import audit
from kb.storage.layout import CASES_KEY, Layout
from kb.storage.postgres import REBUILD_KEY, PgStore
from kb.storage.schema import SCHEMA_VERSION

# Copied tables, in an order that satisfies their references.
TABLES = ("cases", "chunks", "chunks_fts", "feedback", "drafts", "audit_log")
MANIFEST_KEYS = ("model", "dim", "analyser", "created_at", "fusion_dense_prior",
                 "fusion_calibration")
_BATCH = 5000


@dataclass(frozen=True)
class MigrateReport:
    """What was copied, and what was left behind."""

    rows: dict[str, int]
    manuals_skipped: int
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
        target.set_manifest(**{REBUILD_KEY: target.pending_version})
        manuals = source.execute("SELECT count(*) FROM documents").fetchone()[0]
        audit.record(db, "migrate", "postgres+milvus",
                     {"cases": counts["cases"], "chunks": counts["chunks"],
                      "manuals_skipped": manuals})
        version = target.pending_version
    return MigrateReport(counts, manuals, version)
