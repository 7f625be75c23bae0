"""Reading the cases to cluster (the similar-incident views) straight from the record store.

The SQLite file or the PostgreSQL database, through its own short-lived connection, so a
long clustering read never shares a cursor with the app's searches on the knowledge base's
connection (WAL, or PostgreSQL's snapshots, let both read at once).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from kb.errors import KnowledgeBaseError
from kb.storage.filters import Filters


@dataclass(frozen=True, slots=True)
class CaseRow:
    """The case fields the cluster views need."""

    id: str
    date: str | None
    title: str
    content: str
    product: str
    category: str
    escalated: bool | None
    prevention: str
    status: str


@dataclass
class Selection:
    """Selected cases (by date) with the mean vector of their complaint chunks and their tokens."""

    rows: list[CaseRow]
    vectors: np.ndarray  # float32, unit rows
    tokens: list[list[str]]  # Sudachi tokens of the complaint text, stop words dropped
    unembedded: int  # selected cases without any vector, left out
    state_version: int

    def digest(self) -> str:
        """A hash of everything the clusters are computed from: equal digests, equal clusters,
        whatever else a write changed (a manual, a response, another case's retirement)."""
        blob = hashlib.sha256()
        for row, tokens in zip(self.rows, self.tokens, strict=True):
            blob.update(json.dumps([*astuple(row), tokens], ensure_ascii=False).encode())
        blob.update(np.ascontiguousarray(self.vectors).tobytes())
        blob.update(str(self.unembedded).encode())
        return blob.hexdigest()


Source = Path | str  # the SQLite file, or the URL of a PostgreSQL base


def _connect(source: Source) -> object:
    """A connection of its own: to the SQLite file, or to PostgreSQL (kb/storage/postgres.py
    takes the same statements)."""
    if isinstance(source, str):
        from kb.storage.postgres import PgConnection

        return PgConnection(source)
    if not source.exists():  # never create an empty file where a base is expected
        raise KnowledgeBaseError(f"similar-incident clusters read the SQLite file {source}, "
                                 "which this base does not have")
    db = sqlite3.connect(source, timeout=30.0, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


def _version(db: object) -> int:
    row = db.execute("SELECT value FROM manifest WHERE key = 'state_version'").fetchone()
    return int(row[0]) if row else 0


def read_version(source: Source) -> int:
    """The base's state version: it changes on every write, so it keys the cache."""
    db = _connect(source)
    try:
        return _version(db)
    finally:
        db.close()


def load_selection(source: Source, filters: Filters) -> Selection:
    """One consistent snapshot of the selected cases, their vectors and tokens.

    Tokens come from the FTS5 rows our analyser wrote at ingest, so nothing is re-tokenised.
    """
    where, params = filters.sql("k")
    db = _connect(source)
    try:
        db.execute("BEGIN" if not isinstance(source, str) else
                   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")  # one snapshot
        version = _version(db)
        cases = db.execute(
            f"SELECT k.id, k.date, k.title, k.content, k.product, k.category, k.escalated, "
            f"k.prevention, k.status FROM cases k WHERE k.retired_at IS NULL AND {where} "
            f"ORDER BY k.date, k.id",
            params).fetchall()
        sums: dict[str, np.ndarray] = {}
        tokens: dict[str, list[str]] = {}
        for case_id, blob, text in db.execute(
                f"SELECT c.case_id, c.vector, f.primary_text FROM chunks c "
                f"JOIN cases k ON k.id = c.case_id LEFT JOIN chunks_fts f ON f.rowid = c.id "
                f"WHERE c.part = 'complaint' AND c.vector IS NOT NULL AND {where} "
                f"ORDER BY c.case_id, c.ord", params):
            vector = np.frombuffer(blob, dtype=np.float32)
            sums[case_id] = sums[case_id] + vector if case_id in sums else vector.copy()
            tokens.setdefault(case_id, []).extend((text or "").split())
        db.execute("COMMIT")
    finally:
        db.close()
    rows = [CaseRow(r[0], r[1], r[2], r[3], r[4], r[5], None if r[6] is None else bool(r[6]),
                    r[7], r[8]) for r in cases if r[0] in sums]
    if rows:
        vectors = np.vstack([sums[r.id] for r in rows])
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    else:
        vectors = np.zeros((0, 0), dtype=np.float32)
    return Selection(rows, vectors, [tokens[r.id] for r in rows], len(cases) - len(rows), version)
