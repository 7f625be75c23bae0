"""Cases and their chunks (text, vector, FTS5 tokens) in SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import fields

import numpy as np

from ingest.records import Case
from kb.storage.database import Database, batches, iter_vectors, marks, set_vectors, vectors_by_hash
from kb.storage.filters import Filters

_CASE_COLUMNS = [f.name for f in fields(Case)]


def row_to_case(row: sqlite3.Row | tuple, columns: list[str]) -> Case:
    data = dict(zip(columns, row, strict=True))
    data["metadata"] = json.loads(data.get("metadata") or "{}")
    if data.get("escalated") is not None:
        data["escalated"] = bool(data["escalated"])
    return Case(**{k: data[k] for k in _CASE_COLUMNS})


class Store(Database):
    """The system of record: cases and chunks on top of the transaction rules of Database."""

    def fingerprints(self, ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in batches(ids):
            out.update(self.db.execute(
                f"SELECT id, fingerprint FROM cases WHERE id IN ({marks(len(part))})", part))
        return out

    def upsert_case(self, case: Case, now: str) -> None:
        values = [getattr(case, c) for c in _CASE_COLUMNS]
        values[_CASE_COLUMNS.index("metadata")] = json.dumps(case.metadata, ensure_ascii=False)
        escalated = values[_CASE_COLUMNS.index("escalated")]
        values[_CASE_COLUMNS.index("escalated")] = None if escalated is None else int(escalated)
        columns = [*_CASE_COLUMNS, "fingerprint", "created_at", "updated_at"]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "created_at")
        self.db.execute(
            f"INSERT INTO cases ({', '.join(columns)}) VALUES ({marks(len(columns))}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}",
            [*values, case.fingerprint(), now, now],
        )

    def get_cases(self, ids: Iterable[str]) -> dict[str, Case]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, Case] = {}
        for part in batches(ids):
            cursor = self.db.execute(
                f"SELECT {', '.join(_CASE_COLUMNS)} FROM cases WHERE id IN ({marks(len(part))})",
                part)
            for row in cursor:
                case = row_to_case(row, _CASE_COLUMNS)
                out[case.id] = case
        return out

    def retired(self, ids: list[str]) -> dict[str, str]:
        """case id -> when it was retired, for those of `ids` that are retired."""
        out: dict[str, str] = {}
        for part in batches(ids):
            out.update(self.db.execute(
                f"SELECT id, retired_at FROM cases WHERE retired_at IS NOT NULL "
                f"AND id IN ({marks(len(part))})", part))
        return out

    def set_retired(self, ids: list[str], when: str | None) -> list[str]:
        """Retire (`when` set) or restore (None) cases; return the ids whose state changed."""
        changed: list[str] = []
        condition = "retired_at IS NULL" if when else "retired_at IS NOT NULL"
        for part in batches(ids):
            changed += [r[0] for r in self.db.execute(
                f"UPDATE cases SET retired_at = ? WHERE {condition} "
                f"AND id IN ({marks(len(part))}) RETURNING id", [when, *part])]
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
        for part in batches(ids):
            deleted += self.db.execute(
                f"DELETE FROM cases WHERE id IN ({marks(len(part))})", part).rowcount
        return deleted, removed

    # ---- chunks ----
    def delete_chunks_of(self, case_ids: list[str]) -> list[int]:
        """Remove the chunks (and their FTS rows) of these cases; return ids that had vectors."""
        removed: list[int] = []
        for part in batches(case_ids):
            rows = self.db.execute(
                f"SELECT id, vector IS NOT NULL FROM chunks WHERE case_id IN ({marks(len(part))})",
                part).fetchall()
            ids = [r[0] for r in rows]
            removed.extend(r[0] for r in rows if r[1])
            for id_part in batches(ids):
                self._delete_chunk_rows(id_part)
            self._chunks_removed(ids)
        return removed

    def _delete_chunk_rows(self, ids: list[int]) -> None:
        """The chunk rows and their FTS rows (a server store deletes them its own way)."""
        holes = marks(len(ids))
        self.db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({holes})", ids)
        self.db.execute(f"DELETE FROM chunks WHERE id IN ({holes})", ids)

    def _chunks_removed(self, ids: list[int]) -> None:
        """After chunks went: nothing here (the PostgreSQL store lists them for Milvus)."""

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
        return vectors_by_hash(self.db, "chunks", hashes)

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

    def set_vectors(self, chunk_ids: list[int], vectors: np.ndarray) -> None:
        """Inside a transaction: replace the vectors of these chunks (reindex)."""
        set_vectors(self.db, "chunks", chunk_ids, vectors)

    def retokenise(self, rows: list[tuple[int, str, str]]) -> None:
        """Inside a transaction: rewrite every FTS5 row from (chunk id, part, tokens)."""
        self.db.execute("DELETE FROM chunks_fts")
        self.db.executemany(
            "INSERT INTO chunks_fts (rowid, primary_text, secondary_text) VALUES (?, ?, ?)",
            [(cid, tokens, "") if part == "complaint" else (cid, "", tokens)
             for cid, part, tokens in rows])

    def chunk_owners(self, chunk_ids: list[int]) -> dict[int, tuple[str, str, str]]:
        """chunk id -> (case id, part, text)."""
        out: dict[int, tuple[str, str, str]] = {}
        for part in batches([int(i) for i in chunk_ids]):
            for cid, case_id, kind, text in self.db.execute(
                f"SELECT id, case_id, part, text FROM chunks WHERE id IN ({marks(len(part))})",
                part):
                out[cid] = (case_id, kind, text)
        return out

    def case_of(self, chunk_ids: list[int]) -> dict[int, str]:
        """chunk id -> case id (ids no longer stored left out)."""
        out: dict[int, str] = {}
        for part in batches([int(i) for i in chunk_ids]):
            out.update(self.db.execute(
                f"SELECT id, case_id FROM chunks WHERE id IN ({marks(len(part))})", part))
        return out

    def vectors_of(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        """chunk id -> its stored vector (chunks without one, or no longer stored, left out)."""
        out: dict[int, np.ndarray] = {}
        for part in batches([int(i) for i in chunk_ids]):
            for cid, blob in self.db.execute(
                    f"SELECT id, vector FROM chunks WHERE vector IS NOT NULL AND id IN "
                    f"({marks(len(part))})", part):
                out[int(cid)] = np.frombuffer(blob, dtype=np.float32)
        return out

    def chunks_of(self, case_ids: list[str], with_vector: bool = False) -> dict[str, list[int]]:
        """case id -> its chunk ids (only embedded ones if `with_vector`)."""
        out: dict[str, list[int]] = {}
        only = "vector IS NOT NULL AND " if with_vector else ""
        for part in batches(case_ids):
            for cid, case_id in self.db.execute(
                f"SELECT id, case_id FROM chunks WHERE {only}case_id IN ({marks(len(part))})",
                part):
                out.setdefault(case_id, []).append(cid)
        return out

    def allowed_chunks(self, filters: Filters, with_vector: bool = True) -> np.ndarray:
        """Chunk ids of the cases the filters admit (only embedded ones if `with_vector`)."""
        where, params = filters.sql()
        only = "c.vector IS NOT NULL AND " if with_vector else ""
        rows = self.db.execute(
            f"SELECT c.id FROM chunks c JOIN cases k ON k.id = c.case_id "
            f"WHERE {only}{where}", params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def iter_fts_rows(self) -> Iterator[tuple[int, str, str, str, bool]]:
        """(chunk id, primary tokens, secondary tokens, case id, has vector) in id order,
        to build the in-memory BM25 of a large base."""
        for rowid, primary, secondary, case_id, has_vector in self.db.execute(
                "SELECT f.rowid, f.primary_text, f.secondary_text, c.case_id, "
                "c.vector IS NOT NULL FROM chunks_fts f JOIN chunks c ON c.id = f.rowid "
                "ORDER BY f.rowid"):
            yield rowid, primary or "", secondary or "", case_id, bool(has_vector)

    def chunk_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def labels(self) -> list[tuple[str, str, str, str]]:
        """(id, category, product, title) of every active case (fusion calibration)."""
        return self.db.execute("SELECT id, category, product, title FROM cases "
                               "WHERE retired_at IS NULL").fetchall()

    def contents(self, ids: list[str]) -> dict[str, str]:
        """case id -> complaint text."""
        out: dict[str, str] = {}
        for part in batches(ids):
            out.update(self.db.execute(
                f"SELECT id, content FROM cases WHERE id IN ({marks(len(part))})", part))
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
