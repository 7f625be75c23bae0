"""The SQLite connection of a base: transactions, snapshots, the manifest and state versions.

Tables themselves are read and written by the modules beside this one (cases,
documents, records, audit); this one only knows how a write commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kb.storage import faults, health
from kb.storage.layout import Manifest
from kb.storage.schema import migrate

_VECTOR_TABLES = ("chunks", "doc_chunks")  # tables whose rows carry an embedding
_BATCH = 900  # stay under SQLite's bound-parameter limit


def connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """Open in autocommit mode (transactions are explicit), WAL, waiting on writers.

    `read_only` (a read-only directory or mount): SQLite's read-only mode, falling back to
    `immutable` when it cannot even create the WAL index there; no migration runs.
    """
    if read_only:
        return connect_read_only(path)
    db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA busy_timeout = 30000")
    migrate(db)
    return db


def connect_read_only(path: Path) -> sqlite3.Connection:
    """Read a base on a read-only directory or mount (searches, `kb check --no-repair`)."""
    last: sqlite3.Error | None = None
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        db = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True,
                             isolation_level=None, timeout=30.0, check_same_thread=False)
        try:
            db.execute("SELECT count(*) FROM manifest").fetchone()
            return db
        except sqlite3.OperationalError as exc:  # no -shm can be made beside it: immutable
            db.close()
            last = exc
    assert last is not None
    raise last


def batches(items: list, size: int = _BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(n: int) -> str:
    return ", ".join("?" * n)


def rollback(db: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: SQLite ends it itself on some errors (disk
    full), and ROLLBACK then failed with 'no transaction is active', hiding the real error."""
    if db.in_transaction:
        db.execute("ROLLBACK")




class Database:
    """One SQLite file in WAL mode; every write is one transaction that bumps the state version."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        try:
            self.db = connect(path, read_only)
        except sqlite3.OperationalError:
            if read_only or not health.is_full(path.parent):
                raise
            # A full disk: SQLite cannot make its WAL index. Searches go on from the
            # committed state, read-only; any write then says the disk is full.
            self.db, read_only = connect(path, read_only=True), True
        self.read_only = read_only

    def close(self) -> None:
        self.db.close()

    # ---- manifest ----
    def manifest(self) -> Manifest:
        return Manifest.from_rows(self.manifest_rows())

    def manifest_rows(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM manifest").fetchall())

    def set_manifest(self, **values: object) -> None:
        self.db.executemany("INSERT OR REPLACE INTO manifest VALUES (?, ?)",
                            [(k, str(v)) for k, v in values.items()])

    def write_manifest(self, also: Callable[[sqlite3.Connection], None] | None = None,
                       **values: object) -> None:
        """Update manifest keys atomically without bumping the state version (no data changed);
        `also` writes more in the same transaction (its audit event)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.set_manifest(**values)
            if also is not None:
                also(self.db)
            faults.point("manifest-before-commit")
            self.db.execute("COMMIT")
        except BaseException:
            rollback(self.db)
            raise

    def state_version(self) -> int:
        row = self.db.execute("SELECT value FROM manifest WHERE key = 'state_version'").fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that also bumps the state version; all or nothing.

        Inside it, `pending_version` is the version this transaction will commit.
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.pending_version = self.state_version() + 1
            yield self.db
            self.db.execute("INSERT OR REPLACE INTO manifest VALUES ('state_version', ?)",
                            (str(self.pending_version),))
            faults.point("before-commit")
            self.db.execute("COMMIT")
        except BaseException:
            rollback(self.db)
            raise
        faults.point("after-commit")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same committed state.

        A search makes several queries; without this, a writer committing between
        them could show a reader half of the old state and half of the new one.
        """
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN")
        try:
            yield self.db
        finally:
            if self.db.in_transaction:
                self.db.execute("COMMIT")

    def try_write(self, sql: str, params: Iterable[object]) -> bool:
        """Run one small write now, or skip it (False) if a writer holds the database."""
        self.db.execute("PRAGMA busy_timeout = 0")
        try:
            self.db.execute(sql, list(params))
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            self.db.execute("PRAGMA busy_timeout = 30000")

    def index_version(self, key: str) -> int:
        """State version of the last write that changed the vectors behind FAISS index `key`."""
        row = self.db.execute("SELECT value FROM manifest WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def mark_index_changed(self, key: str) -> None:
        """Inside a transaction: the vectors behind `key` change with it."""
        self.set_manifest(**{key: self.pending_version})

def manifest_of(db: sqlite3.Connection) -> Manifest:
    """The manifest of a database opened without `Database` (kb check, backup)."""
    return Manifest.from_rows(dict(db.execute("SELECT key, value FROM manifest").fetchall()))


def iter_vectors(db: sqlite3.Connection, table: str,
                 batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) of a chunk table in id order and bounded batches (FAISS rebuilds)."""
    assert table in _VECTOR_TABLES
    last = -1
    while True:
        rows = db.execute(f"SELECT id, vector FROM {table} WHERE vector IS NOT NULL AND id > ? "
                          f"ORDER BY id LIMIT ?", (last, batch)).fetchall()
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        yield ids, np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        last = int(ids[-1])


def vectors_by_hash(db: sqlite3.Connection, table: str, hashes: list[str]) -> dict[str, bytes]:
    """text hash -> stored vector of `table`, so text already embedded is not embedded again."""
    assert table in _VECTOR_TABLES
    out: dict[str, bytes] = {}
    for part in batches(hashes):
        out.update(db.execute(f"SELECT text_hash, vector FROM {table} WHERE vector IS NOT NULL "
                              f"AND text_hash IN ({marks(len(part))})", part))
    return out


def set_vectors(db: sqlite3.Connection, table: str, ids: list[int], vectors: np.ndarray) -> None:
    """Inside a transaction: replace the vectors of these rows of `table` (reindex)."""
    assert table in _VECTOR_TABLES
    db.executemany(f"UPDATE {table} SET vector = ? WHERE id = ?",
                   [(np.asarray(v, np.float32).tobytes(), i)
                    for i, v in zip(ids, vectors, strict=True)])
