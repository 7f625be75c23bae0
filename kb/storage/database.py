"""SQLite system of record: cases, chunks with their vectors, FTS5 tokens, manifest."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import numpy as np

from ingest.records import Case
from kb.search.filters import Filters
from kb.storage import faults
from kb.storage.schema import migrate

_CASE_COLUMNS = [f.name for f in fields(Case)]
_BATCH = 900  # stay under SQLite's bound-parameter limit


def connect(path: Path) -> sqlite3.Connection:
    """Open in autocommit mode (transactions are explicit), WAL, waiting on writers."""
    db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA busy_timeout = 30000")
    migrate(db)
    return db


def _chunks(items: list, size: int = _BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def iter_vectors(db: sqlite3.Connection, table: str,
                 batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) of a chunk table in id order and bounded batches (FAISS rebuilds)."""
    assert table in ("chunks", "doc_chunks")
    last = -1
    while True:
        rows = db.execute(f"SELECT id, vector FROM {table} WHERE vector IS NOT NULL AND id > ? "
                          f"ORDER BY id LIMIT ?", (last, batch)).fetchall()
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        yield ids, np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        last = int(ids[-1])


def row_to_case(row: sqlite3.Row | tuple, columns: list[str]) -> Case:
    data = dict(zip(columns, row, strict=True))
    data["metadata"] = json.loads(data.get("metadata") or "{}")
    if data.get("escalated") is not None:
        data["escalated"] = bool(data["escalated"])
    return Case(**{k: data[k] for k in _CASE_COLUMNS})


class Store:
    """Thin typed wrapper over the SQLite file; no embedding, no FAISS."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = connect(path)

    def close(self) -> None:
        self.db.close()

    # ---- manifest ----
    def manifest(self) -> dict[str, str]:
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
            self.db.execute("ROLLBACK")
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
            self.db.execute("ROLLBACK")
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

    # ---- cases ----
    def fingerprints(self, ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in _chunks(ids):
            out.update(self.db.execute(
                f"SELECT id, fingerprint FROM cases WHERE id IN ({_marks(len(part))})", part))
        return out

    def upsert_case(self, case: Case, now: str) -> None:
        values = [getattr(case, c) for c in _CASE_COLUMNS]
        values[_CASE_COLUMNS.index("metadata")] = json.dumps(case.metadata, ensure_ascii=False)
        escalated = values[_CASE_COLUMNS.index("escalated")]
        values[_CASE_COLUMNS.index("escalated")] = None if escalated is None else int(escalated)
        columns = [*_CASE_COLUMNS, "fingerprint", "created_at", "updated_at"]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "created_at")
        self.db.execute(
            f"INSERT INTO cases ({', '.join(columns)}) VALUES ({_marks(len(columns))}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}",
            [*values, case.fingerprint(), now, now],
        )

    def get_cases(self, ids: Iterable[str]) -> dict[str, Case]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, Case] = {}
        for part in _chunks(ids):
            cursor = self.db.execute(
                f"SELECT {', '.join(_CASE_COLUMNS)} FROM cases WHERE id IN ({_marks(len(part))})",
                part)
            for row in cursor:
                case = row_to_case(row, _CASE_COLUMNS)
                out[case.id] = case
        return out

    def retired(self, ids: list[str]) -> dict[str, str]:
        """case id -> when it was retired, for those of `ids` that are retired."""
        out: dict[str, str] = {}
        for part in _chunks(ids):
            out.update(self.db.execute(
                f"SELECT id, retired_at FROM cases WHERE retired_at IS NOT NULL "
                f"AND id IN ({_marks(len(part))})", part))
        return out

    def set_retired(self, ids: list[str], when: str | None) -> list[str]:
        """Retire (`when` set) or restore (None) cases; return the ids whose state changed."""
        changed: list[str] = []
        condition = "retired_at IS NULL" if when else "retired_at IS NOT NULL"
        for part in _chunks(ids):
            changed += [r[0] for r in self.db.execute(
                f"UPDATE cases SET retired_at = ? WHERE {condition} "
                f"AND id IN ({_marks(len(part))}) RETURNING id", [when, *part])]
        return changed

    def iter_cases(self, retired: bool = False, batch: int = 2000) -> Iterator[list[Case]]:
        """Every active (or every retired) case in id order, in bounded batches (export)."""
        condition = "retired_at IS NOT NULL" if retired else "retired_at IS NULL"
        last = ""
        while True:
            rows = self.db.execute(
                f"SELECT {', '.join(_CASE_COLUMNS)} FROM cases WHERE {condition} AND id > ? "
                f"ORDER BY id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield [row_to_case(r, _CASE_COLUMNS) for r in rows]
            last = rows[-1][0]

    def delete_cases(self, ids: list[str]) -> tuple[int, list[int]]:
        """Delete cases and their chunks; return (cases deleted, removed vector chunk ids)."""
        removed = self.delete_chunks_of(ids)
        deleted = 0
        for part in _chunks(ids):
            deleted += self.db.execute(
                f"DELETE FROM cases WHERE id IN ({_marks(len(part))})", part).rowcount
        return deleted, removed

    # ---- chunks ----
    def delete_chunks_of(self, case_ids: list[str]) -> list[int]:
        """Remove the chunks (and their FTS rows) of these cases; return ids that had vectors."""
        removed: list[int] = []
        for part in _chunks(case_ids):
            rows = self.db.execute(
                f"SELECT id, vector IS NOT NULL FROM chunks WHERE case_id IN ({_marks(len(part))})",
                part).fetchall()
            ids = [r[0] for r in rows]
            removed.extend(r[0] for r in rows if r[1])
            for id_part in _chunks(ids):
                marks = _marks(len(id_part))
                self.db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})", id_part)
                self.db.execute(f"DELETE FROM chunks WHERE id IN ({marks})", id_part)
        return removed

    def insert_chunk(self, case_id: str, part: str, ord_: int, text: str, text_hash: str,
                     vector: np.ndarray | None, fts_text: str) -> int:
        blob = None if vector is None else np.asarray(vector, np.float32).tobytes()
        cursor = self.db.execute(
            "INSERT INTO chunks (case_id, part, ord, text, text_hash, vector) "
            "VALUES (?, ?, ?, ?, ?, ?)", (case_id, part, ord_, text, text_hash, blob))
        chunk_id = int(cursor.lastrowid)
        primary, secondary = (fts_text, "") if part == "complaint" else ("", fts_text)
        self.db.execute("INSERT INTO chunks_fts (rowid, primary_text, secondary_text) "
                        "VALUES (?, ?, ?)", (chunk_id, primary, secondary))
        return chunk_id

    def vectors_by_hash(self, hashes: list[str]) -> dict[str, bytes]:
        """Stored vectors for texts already embedded (so unchanged text is not re-embedded)."""
        out: dict[str, bytes] = {}
        for part in _chunks(hashes):
            out.update(self.db.execute(
                f"SELECT text_hash, vector FROM chunks WHERE vector IS NOT NULL "
                f"AND text_hash IN ({_marks(len(part))})", part))
        return out

    def iter_vectors(self, batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, vectors) of case chunks in batches, to rebuild the FAISS index."""
        return iter_vectors(self.db, "chunks", batch)

    def iter_chunk_texts(self, batch: int = 5000) -> Iterator[list[tuple[int, str, str]]]:
        """(id, part, text) of every chunk, for re-embedding and re-tokenising."""
        last = -1
        while True:
            rows = self.db.execute("SELECT id, part, text FROM chunks WHERE id > ? ORDER BY id "
                                   "LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def chunk_owners(self, chunk_ids: list[int]) -> dict[int, tuple[str, str, str]]:
        """chunk id -> (case id, part, text)."""
        out: dict[int, tuple[str, str, str]] = {}
        for part in _chunks([int(i) for i in chunk_ids]):
            for cid, case_id, kind, text in self.db.execute(
                f"SELECT id, case_id, part, text FROM chunks WHERE id IN ({_marks(len(part))})",
                part):
                out[cid] = (case_id, kind, text)
        return out

    def chunks_of(self, case_ids: list[str], with_vector: bool = False) -> dict[str, list[int]]:
        """case id -> its chunk ids (only embedded ones if `with_vector`)."""
        out: dict[str, list[int]] = {}
        only = "vector IS NOT NULL AND " if with_vector else ""
        for part in _chunks(case_ids):
            for cid, case_id in self.db.execute(
                f"SELECT id, case_id FROM chunks WHERE {only}case_id IN ({_marks(len(part))})",
                part):
                out.setdefault(case_id, []).append(cid)
        return out

    def allowed_vector_chunks(self, filters: Filters) -> np.ndarray:
        where, params = filters.sql()
        rows = self.db.execute(
            f"SELECT c.id FROM chunks c JOIN cases k ON k.id = c.case_id "
            f"WHERE c.vector IS NOT NULL AND {where}", params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    # ---- lexical ----
    def lexical_search(self, match: str, limit: int, filters: Filters,
                       weights: tuple[float, float]) -> list[tuple[int, float]]:
        """(chunk id, score) best first; score = -bm25 so higher is better."""
        if not match:
            return []
        bm25 = f"bm25(chunks_fts, {weights[0]}, {weights[1]})"
        if filters.is_empty():
            sql = (f"SELECT rowid, {bm25} AS s FROM chunks_fts WHERE chunks_fts MATCH ? "
                   f"ORDER BY s LIMIT ?")
            params: list[object] = [match, limit]
        else:
            where, fparams = filters.sql()
            sql = (f"SELECT f.rowid, {bm25} AS s FROM chunks_fts f "
                   f"JOIN chunks c ON c.id = f.rowid JOIN cases k ON k.id = c.case_id "
                   f"WHERE chunks_fts MATCH ? AND {where} ORDER BY s LIMIT ?")
            params = [match, *fparams, limit]
        return [(int(r[0]), -float(r[1])) for r in self.db.execute(sql, params)]

    def lexical_scores_of(self, match: str, chunk_ids: list[int],
                          weights: tuple[float, float]) -> dict[int, float]:
        """Exact BM25 of given chunks (0 where no query term occurs)."""
        if not match or not chunk_ids:
            return {}
        out: dict[int, float] = {}
        for part in _chunks([int(i) for i in chunk_ids]):
            for rowid, score in self.db.execute(
                f"SELECT rowid, bm25(chunks_fts, {weights[0]}, {weights[1]}) FROM chunks_fts "
                f"WHERE chunks_fts MATCH ? AND rowid IN ({_marks(len(part))})", [match, *part]):
                out[int(rowid)] = -float(score)
        return out

    # ---- overview ----
    def counts(self) -> dict[str, int]:
        one = self.db.execute
        return {
            "cases": one("SELECT count(*) FROM cases WHERE retired_at IS NULL").fetchone()[0],
            "retired": one("SELECT count(*) FROM cases WHERE retired_at IS NOT NULL").fetchone()[0],
            "chunks": one("SELECT count(*) FROM chunks").fetchone()[0],
            "vectors": one("SELECT count(*) FROM chunks WHERE vector IS NOT NULL").fetchone()[0],
            "escalated": one("SELECT count(*) FROM cases WHERE escalated = 1 "
                             "AND retired_at IS NULL").fetchone()[0],
        }

    def distinct(self, column: str) -> list[tuple[str, int]]:
        assert column in ("category", "product", "channel", "source", "status", "severity")
        return self.db.execute(
            f"SELECT {column}, count(*) FROM cases WHERE {column} != '' AND retired_at IS NULL "
            f"GROUP BY {column} ORDER BY count(*) DESC, {column}").fetchall()

    def date_range(self) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT min(date), max(date) FROM cases "
                              "WHERE retired_at IS NULL").fetchone()
        return row[0], row[1]
