"""SQLite side of manuals: documents (with the original file), their passages, FTS5 rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kb.storage.database import _chunks, _marks, iter_vectors

# Headings count less than the passage text itself in BM25.
FTS_WEIGHTS = (0.5, 1.0)


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


@dataclass(frozen=True)
class StoredPassage:
    chunk_id: int
    document_id: str
    title: str
    text: str
    page_start: int | None
    page_end: int | None
    heading_path: tuple[str, ...]


class DocumentStore:
    """Reads and writes of the documents tables; callers hold the transaction."""

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
        for part in _chunks(ids):
            self.db.execute(f"DELETE FROM doc_chunks_fts WHERE rowid IN ({_marks(len(part))})", part)
            self.db.execute(f"DELETE FROM doc_chunks WHERE id IN ({_marks(len(part))})", part)
        return [r[0] for r in rows if r[1]]

    def delete(self, document_id: str) -> tuple[bool, list[int]]:
        removed = self.delete_chunks(document_id)
        gone = self.db.execute("DELETE FROM documents WHERE id = ?", (document_id,)).rowcount
        return bool(gone), removed

    def insert_chunk(self, document_id: str, order: int, text: str, page_start: int | None,
                     page_end: int | None, heading_path: tuple[str, ...], text_hash: str,
                     vector: np.ndarray, heading_tokens: str, body_tokens: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO doc_chunks (document_id, ord, text, page_start, page_end, heading_path, "
            "text_hash, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (document_id, order, text, page_start, page_end,
             json.dumps(list(heading_path), ensure_ascii=False), text_hash,
             np.asarray(vector, np.float32).tobytes()))
        chunk_id = int(cursor.lastrowid)
        self.db.execute("INSERT INTO doc_chunks_fts (rowid, heading, body) VALUES (?, ?, ?)",
                        (chunk_id, heading_tokens, body_tokens))
        return chunk_id

    def vectors_by_hash(self, hashes: list[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for part in _chunks(hashes):
            out.update(self.db.execute(
                f"SELECT text_hash, vector FROM doc_chunks WHERE vector IS NOT NULL "
                f"AND text_hash IN ({_marks(len(part))})", part))
        return out

    def iter_vectors(self, batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return iter_vectors(self.db, "doc_chunks", batch)

    def passages(self, chunk_ids: list[int]) -> dict[int, StoredPassage]:
        out: dict[int, StoredPassage] = {}
        for part in _chunks([int(i) for i in chunk_ids]):
            for row in self.db.execute(
                f"SELECT c.id, c.document_id, d.title, c.text, c.page_start, c.page_end, "
                f"c.heading_path FROM doc_chunks c JOIN documents d ON d.id = c.document_id "
                f"WHERE c.id IN ({_marks(len(part))})", part):
                out[row[0]] = StoredPassage(*row[:6], tuple(json.loads(row[6])))
        return out

    def page_text(self, document_id: str, page: int) -> str:
        """Text of the passages on one page, in order (for 'open the cited page')."""
        rows = self.db.execute(
            "SELECT text FROM doc_chunks WHERE document_id = ? AND page_start <= ? "
            "AND coalesce(page_end, page_start) >= ? ORDER BY ord", (document_id, page, page))
        return "\n\n".join(r[0] for r in rows)

    def lexical_search(self, match: str, limit: int) -> list[tuple[int, float]]:
        if not match:
            return []
        bm25 = f"bm25(doc_chunks_fts, {FTS_WEIGHTS[0]}, {FTS_WEIGHTS[1]})"
        return [(int(r[0]), -float(r[1])) for r in self.db.execute(
            f"SELECT rowid, {bm25} AS s FROM doc_chunks_fts WHERE doc_chunks_fts MATCH ? "
            f"ORDER BY s LIMIT ?", (match, limit))]

    def lexical_scores_of(self, match: str, chunk_ids: list[int]) -> dict[int, float]:
        if not match or not chunk_ids:
            return {}
        out: dict[int, float] = {}
        bm25 = f"bm25(doc_chunks_fts, {FTS_WEIGHTS[0]}, {FTS_WEIGHTS[1]})"
        for part in _chunks([int(i) for i in chunk_ids]):
            for rowid, score in self.db.execute(
                f"SELECT rowid, {bm25} FROM doc_chunks_fts WHERE doc_chunks_fts MATCH ? "
                f"AND rowid IN ({_marks(len(part))})", [match, *part]):
                out[int(rowid)] = -float(score)
        return out

    def mark_retrieved(self, document_ids: list[str], now: str) -> None:
        for part in _chunks(document_ids):
            self.db.execute(f"UPDATE documents SET last_retrieved_at = ? "
                            f"WHERE id IN ({_marks(len(part))})", [now, *part])

    def stale(self, unretrieved_before: str, unchanged_before: str) -> list[tuple[DocumentInfo, str]]:
        """Review candidates with the reason: not retrieved lately, or not updated for long."""
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
