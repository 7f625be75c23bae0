"""SQLite side of manuals: documents (with the original file), their passages, FTS5 rows."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kb.storage.database import batches, iter_vectors, marks, set_vectors, vectors_by_hash

# Headings count less than the passage text itself in BM25.


@dataclass(frozen=True)
class DocumentInfo:
    """A stored manual as the manuals page lists it."""

    id: str
    title: str
    file_type: str
    sha256: str
    pages: int | None
    size: int
    chunks: int
    warnings: list[str]
    ocr_pages: list[int]
    needs_ocr_pages: list[int]
    added_at: str
    updated_at: str
    last_retrieved_at: str | None


@dataclass
class Passage:
    """A manual passage and where to find it: document, pages, heading path."""

    document_id: str
    title: str
    text: str
    page_start: int | None
    page_end: int | None
    heading_path: tuple[str, ...]


class DocumentStore:
    """Reads and writes of the documents tables; callers hold the transaction."""

    fts5 = True  # passages' BM25 from the doc_chunks_fts table itself (PostgreSQL: in memory)

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM documents").fetchone()[0]

    def sha256_of(self, document_id: str) -> str | None:
        row = self.db.execute("SELECT sha256 FROM documents WHERE id = ?", (document_id,)).fetchone()
        return row[0] if row else None

    def list(self) -> list[DocumentInfo]:
        rows = self.db.execute(
            "SELECT d.id, d.title, d.file_type, d.sha256, d.pages, d.size, "
            "(SELECT count(*) FROM doc_chunks c WHERE c.document_id = d.id), d.warnings, "
            "d.ocr_pages, d.needs_ocr_pages, d.added_at, d.updated_at, d.last_retrieved_at "
            "FROM documents d ORDER BY d.title, d.id").fetchall()
        return [DocumentInfo(*r[:7], json.loads(r[7]), json.loads(r[8]), json.loads(r[9]),
                             *r[10:]) for r in rows]

    def content(self, document_id: str) -> bytes | None:
        row = self.db.execute("SELECT content FROM documents WHERE id = ?",
                              (document_id,)).fetchone()
        return bytes(row[0]) if row else None

    def upsert(self, info: dict[str, object], content: bytes, now: str) -> None:
        self.db.execute(
            "INSERT INTO documents (id, title, file_type, sha256, pages, size, content, warnings, "
            "ocr_pages, needs_ocr_pages, added_at, updated_at) VALUES "
            "(:id, :title, :file_type, :sha256, :pages, :size, :content, :warnings, :ocr_pages, "
            ":needs_ocr_pages, :now, :now) ON CONFLICT(id) DO UPDATE SET title = excluded.title, "
            "file_type = excluded.file_type, sha256 = excluded.sha256, pages = excluded.pages, "
            "size = excluded.size, content = excluded.content, warnings = excluded.warnings, "
            "ocr_pages = excluded.ocr_pages, needs_ocr_pages = excluded.needs_ocr_pages, "
            "updated_at = excluded.updated_at",
            {**info, "content": content, "now": now})

    def delete_chunks(self, document_id: str) -> list[int]:
        """Remove a document's passages (and FTS rows); return ids that had vectors."""
        rows = self.db.execute("SELECT id, vector IS NOT NULL FROM doc_chunks WHERE document_id = ?",
                               (document_id,)).fetchall()
        ids = [r[0] for r in rows]
        for part in batches(ids):
            self.db.execute(f"DELETE FROM doc_chunks_fts WHERE rowid IN ({marks(len(part))})", part)
            self.db.execute(f"DELETE FROM doc_chunks WHERE id IN ({marks(len(part))})", part)
        return [r[0] for r in rows if r[1]]

    def delete(self, document_id: str) -> tuple[bool, list[int]]:
        removed = self.delete_chunks(document_id)
        gone = self.db.execute("DELETE FROM documents WHERE id = ?", (document_id,)).rowcount
        return bool(gone), removed

    def insert_passage(self, document_id: str, order: int, text: str, page_start: int | None,
                     page_end: int | None, heading_path: tuple[str, ...], text_hash: str,
                     vector: np.ndarray, heading_tokens: str, body_tokens: str) -> int:
        chunk_id = self._insert_returning_id(
            "INSERT INTO doc_chunks (document_id, ord, text, page_start, page_end, heading_path, "
            "text_hash, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (document_id, order, text, page_start, page_end,
             json.dumps(list(heading_path), ensure_ascii=False), text_hash,
             np.asarray(vector, np.float32).tobytes()))
        self.db.execute("INSERT INTO doc_chunks_fts (rowid, heading, body) VALUES (?, ?, ?)",
                        (chunk_id, heading_tokens, body_tokens))
        return chunk_id

    def _insert_returning_id(self, sql: str, params: tuple) -> int:
        """Run one INSERT and return the new row's id (PostgreSQL: from RETURNING)."""
        return int(self.db.execute(sql, params).lastrowid)

    def vectors_by_hash(self, hashes: list[str]) -> dict[str, bytes]:
        return vectors_by_hash(self.db, "doc_chunks", hashes)

    def iter_vectors(self, batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return iter_vectors(self.db, "doc_chunks", batch)

    def passages(self, chunk_ids: list[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for part in batches([int(i) for i in chunk_ids]):
            for row in self.db.execute(
                f"SELECT c.id, c.document_id, d.title, c.text, c.page_start, c.page_end, "
                f"c.heading_path FROM doc_chunks c JOIN documents d ON d.id = c.document_id "
                f"WHERE c.id IN ({marks(len(part))})", part):
                out[row[0]] = Passage(*row[1:6], tuple(json.loads(row[6])))
        return out

    def passage_texts(self) -> list[tuple[int, str, tuple[str, ...]]]:
        """(id, text, heading path) of every passage, in id order (reindex)."""
        return [(cid, text, tuple(json.loads(heading))) for cid, text, heading in self.db.execute(
            "SELECT id, text, heading_path FROM doc_chunks ORDER BY id")]

    def set_vectors(self, chunk_ids: list[int], vectors: np.ndarray) -> None:
        """Inside a transaction: replace the vectors of these passages (reindex)."""
        set_vectors(self.db, "doc_chunks", chunk_ids, vectors)

    def retokenise(self, rows: list[tuple[int, str, str]]) -> None:
        """Inside a transaction: rewrite every FTS5 row from (id, heading tokens, body tokens)."""
        self.db.execute("DELETE FROM doc_chunks_fts")
        self.db.executemany("INSERT INTO doc_chunks_fts (rowid, heading, body) VALUES (?, ?, ?)",
                            rows)

    def page_text(self, document_id: str, page: int) -> str:
        """Text of the passages on one page, in order (for 'open the cited page')."""
        rows = self.db.execute(
            "SELECT text FROM doc_chunks WHERE document_id = ? AND page_start <= ? "
            "AND coalesce(page_end, page_start) >= ? ORDER BY ord", (document_id, page, page))
        return "\n\n".join(r[0] for r in rows)

    def stale(self, unretrieved_days: int, unchanged_months: int) -> list[tuple[DocumentInfo, str]]:
        """Review candidates (断捨離) with the reason: not retrieved by any search in N days
        ('unretrieved'), or not updated in M months ('unchanged'), or both."""
        now = dt.datetime.now(dt.UTC)
        unretrieved_before = (now - dt.timedelta(days=unretrieved_days)).isoformat(
            timespec="seconds")
        unchanged_before = (now - dt.timedelta(days=30 * unchanged_months)).isoformat(
            timespec="seconds")
        out = []
        for info in self.list():
            reasons = []
            if (info.last_retrieved_at or info.added_at) < unretrieved_before:
                reasons.append("unretrieved")
            if info.updated_at < unchanged_before:
                reasons.append("unchanged")
            if reasons:
                out.append((info, "+".join(reasons)))
        return out
