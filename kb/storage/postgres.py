"""PostgreSQL as the shared system of record: the same Store, on a server many processes share.

`PgStore` is kb/storage/cases.py's `Store` on a PostgreSQL connection: the tables and
columns are the same (kb/storage/pg_schema.py), and `PgConnection` translates the few
SQLite spellings the store uses (`?` placeholders, `INSERT OR REPLACE`, `BEGIN
IMMEDIATE`), so every read and write is the same code on both backends. What differs is
overridden here: chunk ids come from `RETURNING`, a write also lists its chunk changes in
`index_outbox` (Milvus is derived from it, kb/index/milvus_sync.py), and writers take a
PostgreSQL advisory lock instead of `write.lock`. Each write is still one transaction.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import TransactionStatus

from kb.errors import KnowledgeBaseError
from kb.settings import Settings
from kb.storage import faults
from kb.storage.cases import Store
from kb.storage.documents import DocumentStore
from kb.storage.layout import DOCS_KEY
from kb.storage.locking import wait_for
from kb.storage.pg_schema import UPSERT_KEYS, migrate

WRITER_LOCK = 0x6B62_0002  # the advisory lock every writer of a base holds (one base per database)
APPLIED_KEY = "milvus_applied_version"  # manifest: the outbox version Milvus reflects
REBUILD_KEY = "milvus_rebuild_version"  # manifest: a write that needs Milvus rebuilt whole
_REPLACE = re.compile(r"^\s*INSERT OR REPLACE INTO (\w+) VALUES", re.IGNORECASE)


class _IntDumper(Dumper):
    """numpy integers as PostgreSQL bigints (chunk ids often arrive as np.int64)."""

    oid = psycopg.postgres.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return str(int(obj)).encode()


def translate(sql: str, with_params: bool = True) -> str:
    """SQLite's spelling of the store's statements, in PostgreSQL's (placeholders only when
    parameters come with it: psycopg reads `%` only then)."""
    if sql.strip().upper() == "BEGIN IMMEDIATE":
        return "BEGIN"
    upsert = _REPLACE.match(sql)
    if upsert:
        key, columns = UPSERT_KEYS[upsert.group(1)]
        sets = ", ".join(f"{c} = excluded.{c}" for c in columns)
        sql = _REPLACE.sub(f"INSERT INTO {upsert.group(1)} VALUES", sql)
        sql += f" ON CONFLICT ({key}) DO UPDATE SET {sets}"
    return sql.replace("%", "%%").replace("?", "%s") if with_params else sql


class PgConnection:
    """A psycopg connection that takes the store's SQLite-style statements (autocommit;
    transactions are explicit, as with the SQLite connection)."""

    def __init__(self, url: str) -> None:
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise KnowledgeBaseError(f"cannot connect to PostgreSQL at {_safe(url)}: "
                                     f"{str(exc).strip()}; start it or fix KB_POSTGRES_URL"
                                     ) from exc
        for kind in (np.int64, np.int32):
            self.conn.adapters.register_dumper(kind, _IntDumper)

    def execute(self, sql: str, params: Sequence[object] | None = None) -> psycopg.Cursor:
        if params is None:
            return self.conn.execute(translate(sql, with_params=False))
        return self.conn.execute(translate(sql), list(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(translate(sql), [list(r) for r in rows])

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.conn.close()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class PgWriterLock:
    """The writer lock on a PostgreSQL base: a session advisory lock on a connection of its
    own. The server drops it when the holder's connection ends (even by SIGKILL)."""

    def __init__(self, url: str, timeout: float | None = None) -> None:
        self.url, self.timeout = url, timeout
        self._conn: psycopg.Connection | None = None
        self._depth = 0
        self._mutex = threading.RLock()

    @property
    def held(self) -> bool:
        return self._depth > 0

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits."""
        if not self._mutex.acquire(blocking=False):
            return False
        if self._depth:
            self._depth += 1
            return True
        if self._conn is None or self._conn.closed:
            self._conn = PgConnection(self.url).conn
        if not self._conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK,)).fetchone()[0]:
            self._mutex.release()
            return False
        self._depth = 1
        return True

    def acquire(self) -> None:
        """Wait for the lock up to the timeout (KB_LOCK_TIMEOUT), then raise WriterLockTimeout."""
        timeout = Settings.from_env().lock_timeout if self.timeout is None else self.timeout
        wait_for(self.try_acquire, timeout,
                 "another writer still holds the PostgreSQL advisory lock of this base")

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._conn is not None:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))
        self._mutex.release()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PgStore(Store):
    """The system of record on PostgreSQL: Store's code, PostgreSQL's transactions."""

    backend = "postgres+milvus"

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = None
        self.db = PgConnection(url)
        migrate(self.db.conn.execute)

    def writer_lock(self) -> PgWriterLock:
        return PgWriterLock(self.url)

    def documents(self) -> PgDocumentStore:
        return PgDocumentStore(self.db)

    # ---- manifest and transactions ----
    def write_manifest(self, also: Any = None, **values: object) -> None:
        """Update manifest keys atomically without bumping the state version."""
        self.db.execute("BEGIN")
        try:
            self.set_manifest(**values)
            if also is not None:
                also(self.db)
            faults.point("manifest-before-commit")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """One write transaction that bumps the state version (row-locked, so two writers
        that got past the advisory lock still commit versions in turn)."""
        self.db.execute("BEGIN")
        try:
            self.db.execute("INSERT INTO manifest VALUES ('state_version', '0') "
                            "ON CONFLICT (key) DO NOTHING")
            row = self.db.execute("SELECT value FROM manifest WHERE key = 'state_version' "
                                  "FOR UPDATE").fetchone()
            self.pending_version = int(row[0]) + 1
            yield self.db
            self.set_manifest(state_version=self.pending_version)
            faults.point("before-commit")
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        faults.point("after-commit")

    @contextmanager
    def snapshot(self) -> Iterator[PgConnection]:
        """Reads see the latest commit statement by statement: Milvus is applied after
        PostgreSQL commits, so what it returns is at most that new (kb/index/milvus_sync.py)."""
        yield self.db

    def try_write(self, sql: str, params: Sequence[object]) -> bool:
        """One small write now, or skip it (False) if its rows are locked by a writer."""
        self.db.execute("BEGIN")
        try:
            self.db.execute("SET LOCAL lock_timeout = '200ms'")
            self.db.execute(sql, list(params))
            self.db.execute("COMMIT")
            return True
        except psycopg.errors.LockNotAvailable:
            self.db.execute("ROLLBACK")
            return False
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # ---- chunks: ids from RETURNING, changes into the outbox ----
    def insert_chunk(self, case_id: str, part: str, ord_: int, text: str, text_hash: str,
                     vector: np.ndarray | None, fts_text: str) -> int:
        blob = None if vector is None else np.asarray(vector, np.float32).tobytes()
        chunk_id = int(self.db.execute(
            "INSERT INTO chunks (case_id, part, ord, text, text_hash, vector) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (case_id, part, ord_, text, text_hash, blob)).fetchone()[0])
        primary, secondary = (fts_text, "") if part == "complaint" else ("", fts_text)
        self.db.execute("INSERT INTO chunks_fts (rowid, primary_text, secondary_text) "
                        "VALUES (?, ?, ?)", (chunk_id, primary, secondary))
        self._outbox([chunk_id], "put")
        return chunk_id

    def _delete_chunk_rows(self, ids: list[int]) -> None:
        self.db.conn.execute("DELETE FROM chunks_fts WHERE rowid = ANY(%s)", (ids,))
        self.db.conn.execute("DELETE FROM chunks WHERE id = ANY(%s)", (ids,))

    def _chunks_removed(self, ids: list[int]) -> None:
        self._outbox(ids, "remove")

    def _outbox(self, chunk_ids: list[int], op: str) -> None:
        if chunk_ids:
            self.db.conn.execute(
                "INSERT INTO index_outbox (version, chunk_id, op) "
                "SELECT %s, unnest(%s::bigint[]), %s", (self.pending_version, chunk_ids, op))

    def set_vectors(self, chunk_ids: list[int], vectors: np.ndarray) -> None:
        """Reindex: new vectors for every chunk; Milvus is rebuilt after the commit."""
        super().set_vectors(chunk_ids, vectors)
        self.set_manifest(**{REBUILD_KEY: self.pending_version})

    def retokenise(self, rows: list[tuple[int, str, str]]) -> None:
        """Reindex: new tokens for every chunk; Milvus is rebuilt after the commit."""
        super().retokenise(rows)
        self.set_manifest(**{REBUILD_KEY: self.pending_version})

    # ---- what Milvus is derived from ----
    def outbox(self, after: int, upto: int) -> tuple[list[int], list[int]]:
        """(chunk ids to put, ids to remove) for the writes of versions (after, upto]: the
        last change of each chunk wins; put ids that are gone since count as removed."""
        last: dict[int, str] = {}
        for chunk_id, op in self.db.conn.execute(
                "SELECT chunk_id, op FROM index_outbox WHERE version > %s AND version <= %s "
                "ORDER BY seq", (after, upto)):
            last[int(chunk_id)] = op
        puts = [c for c, op in last.items() if op == "put"]
        alive = set(self._existing(puts))
        return sorted(alive), sorted({c for c, op in last.items() if op == "remove"}
                                     | (set(puts) - alive))

    def _existing(self, ids: list[int]) -> list[int]:
        if not ids:
            return []
        return [int(r[0]) for r in self.db.conn.execute(
            "SELECT id FROM chunks WHERE id = ANY(%s)", (ids,))]

    def prune_outbox(self, upto: int) -> None:
        self.db.conn.execute("DELETE FROM index_outbox WHERE version <= %s", (upto,))

    def index_rows(self, ids: list[int] | None = None, after: int = -1,
                   limit: int = 5000) -> list[tuple]:
        """(id, case id, part, vector bytes, tokens, date, category, product, channel,
        escalated) of given chunks, or of the next `limit` chunks after id `after`."""
        sql = ("SELECT c.id, c.case_id, c.part, c.vector, "
               "trim(f.primary_text || ' ' || f.secondary_text), coalesce(k.date, ''), "
               "k.category, k.product, k.channel, k.escalated FROM chunks c "
               "JOIN chunks_fts f ON f.rowid = c.id JOIN cases k ON k.id = c.case_id ")
        if ids is not None:
            return self.db.conn.execute(sql + "WHERE c.id = ANY(%s)", (ids,)).fetchall()
        return self.db.conn.execute(sql + "WHERE c.id > %s ORDER BY c.id LIMIT %s",
                                    (after, limit)).fetchall()

    def chunk_ids(self, with_vector: bool = False) -> np.ndarray:
        """Every chunk id (only embedded ones if `with_vector`), sorted (kb check)."""
        where = " WHERE vector IS NOT NULL" if with_vector else ""
        rows = self.db.conn.execute(f"SELECT id FROM chunks{where} ORDER BY id").fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    # ---- kb migrate: rows copied as they are, ids kept ----
    def columns(self, table: str) -> list[str]:
        """The table's columns in order (a migration selects the same from SQLite)."""
        return [r[0] for r in self.db.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position", (table,))]

    def copy_rows(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        """Inside a transaction: COPY rows in (bytes for BYTEA columns)."""
        with self.db.conn.cursor() as cursor, cursor.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def reset_sequences(self) -> None:
        """After copying rows with their ids: new ids continue after the largest one."""
        for table in ("chunks", "doc_chunks", "feedback", "audit_log"):
            self.db.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")

    def dump(self, tables: Sequence[str], batch: int) -> Iterator[tuple[str, list[str], list]]:
        """(table, columns, rows) in batches of every row of the manifest, then of `tables`,
        all from one repeatable-read snapshot on a connection of its own (kb migrate --to
        sqlite: a writer on another app server cannot tear the copy); server-side cursors,
        so memory holds one batch."""
        with psycopg.connect(self.url) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for table in ("manifest", *tables):
                columns = [r[0] for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "ORDER BY ordinal_position", (table,))]
                with conn.cursor(name=f"kb_dump_{table}") as cursor:
                    cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1")
                    while rows := cursor.fetchmany(batch):
                        yield table, columns, [tuple(bytes(v) if isinstance(v, memoryview)
                                                     else v for v in row) for row in rows]

    def is_empty(self) -> bool:
        return not self.db.conn.execute("SELECT EXISTS (SELECT 1 FROM cases) OR "
                                        "EXISTS (SELECT 1 FROM chunks)").fetchone()[0]

    def close(self) -> None:
        self.db.close()


class PgDocumentStore(DocumentStore):
    """Manuals on a PostgreSQL base: SQLite's statements, except where PostgreSQL spells
    them differently (named parameters, ids from RETURNING). Their passages' FAISS file is
    derived into each app server's directory; their BM25 is computed in memory
    (kb/index/bm25_memory.py `memory_passages`), as PostgreSQL has no FTS5."""

    fts5 = False

    def upsert(self, info: dict[str, object], content: bytes, now: str) -> None:
        self.db.conn.execute(
            "INSERT INTO documents (id, title, file_type, sha256, pages, size, content, warnings, "
            "ocr_pages, needs_ocr_pages, added_at, updated_at) VALUES (%(id)s, %(title)s, "
            "%(file_type)s, %(sha256)s, %(pages)s, %(size)s, %(content)s, %(warnings)s, "
            "%(ocr_pages)s, %(needs_ocr_pages)s, %(now)s, %(now)s) ON CONFLICT (id) DO UPDATE "
            "SET title = excluded.title, file_type = excluded.file_type, sha256 = "
            "excluded.sha256, pages = excluded.pages, size = excluded.size, content = "
            "excluded.content, warnings = excluded.warnings, ocr_pages = excluded.ocr_pages, "
            "needs_ocr_pages = excluded.needs_ocr_pages, updated_at = excluded.updated_at",
            {**info, "content": content, "now": now})

    def _insert_returning_id(self, sql: str, params: tuple) -> int:
        return int(self.db.execute(sql + " RETURNING id", params).fetchone()[0])

    def lexical_version(self) -> tuple[int, ...]:
        """Changes whenever a passage is added, removed or retokenised (the in-memory BM25's key)."""
        row = self.db.execute(
            "SELECT (SELECT count(*) FROM doc_chunks_fts), (SELECT coalesce(max(rowid), 0) "
            "FROM doc_chunks_fts), (SELECT coalesce(max(value), '0') FROM manifest WHERE key "
            "= ?)", (DOCS_KEY,)).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def fts_rows(self) -> list[tuple[int, str, str, str, bool]]:
        """(passage id, heading tokens, body tokens, document id, True), for the BM25 build."""
        return [(int(r[0]), r[1], r[2], r[3], True) for r in self.db.execute(
            "SELECT f.rowid, f.heading, f.body, c.document_id FROM doc_chunks_fts f "
            "JOIN doc_chunks c ON c.id = f.rowid ORDER BY f.rowid")]
