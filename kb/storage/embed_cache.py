"""Vectors embedded by an ingest that has not committed yet, in a SQLite file of their own.

An ingest is one transaction of the base's database (all or nothing), so a vector it
embedded is lost with it when the process is killed: an ingest of 10,000 cases killed at
case 9,000 used to start again from zero. Each finished encoder batch is therefore
committed here at once, keyed by (model, text hash), outside that transaction; the next
ingest takes these vectors before embedding anything. After a successful commit the
vectors are in the base itself and the file is deleted (after a failed ingest it stays,
for the retry). Only the writer (it holds write.lock) opens it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from kb.storage import faults
from kb.storage.database import batches, marks

_SCHEMA = """CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)) WITHOUT ROWID"""


class EmbeddingCache:
    """Finished embeddings of one model, committed batch by batch; safe across two threads
    (the ingest's embedding thread writes while its main thread reads)."""

    def __init__(self, path: Path, model: str) -> None:
        self.path, self.model = path, model
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")  # a power cut may lose the last batches
            db.execute(_SCHEMA)
            self._db = db
        return self._db

    def get(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Cached vectors of these text hashes (only the file of a killed ingest has any)."""
        if not hashes or (self._db is None and not self.path.exists()):
            return {}
        out: dict[str, np.ndarray] = {}
        with self._lock:
            db = self._connect()
            for part in batches(hashes):
                rows = db.execute(f"SELECT text_hash, vector FROM vectors WHERE model = ? AND "
                                  f"text_hash IN ({marks(len(part))})", [self.model, *part])
                out.update((h, np.frombuffer(blob, dtype=np.float32)) for h, blob in rows)
        return out

    def put(self, vectors: Iterable[tuple[str, np.ndarray]]) -> None:
        """Commit one encoder batch now: a kill after this keeps it."""
        rows = [(self.model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors]
        with self._lock:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        faults.point("embed-cached")

    def count(self) -> int:
        if self._db is None and not self.path.exists():
            return 0
        with self._lock:
            return int(self._connect().execute("SELECT count(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def discard(self) -> None:
        """After the ingest committed: its vectors are in the base now; delete the file."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
