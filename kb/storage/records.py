"""Small records beside the cases: staff feedback on results, and record-form drafts."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass

import numpy as np

from kb.storage.database import Database


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Feedback:
    """One staff judgment of one result."""

    query: str
    case_id: str
    helpful: bool
    rank: int | None
    mode: str
    created_at: str


def record_feedback(db: sqlite3.Connection, query: str, query_vector: np.ndarray | None,
                    case_id: str, helpful: bool, rank: int | None = None, mode: str = "") -> None:
    """Store one judgment; a later judgment of the same query and case replaces it."""
    blob = None if query_vector is None else np.asarray(query_vector, np.float32).tobytes()
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("DELETE FROM feedback WHERE query = ? AND case_id = ?", (query, case_id))
        db.execute("INSERT INTO feedback (query, query_vector, case_id, helpful, rank, mode, "
                   "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (query, blob, case_id, int(helpful), rank, mode, _now()))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def all_feedback(db: sqlite3.Connection) -> list[Feedback]:
    rows = db.execute("SELECT query, case_id, helpful, rank, mode, created_at FROM feedback "
                      "ORDER BY id").fetchall()
    return [Feedback(q, c, bool(h), r, m, t) for q, c, h, r, m, t in rows]


def feedback_key(db: sqlite3.Connection) -> tuple[int, int | None]:
    """(count, last id): changes whenever any process adds feedback."""
    count, last = db.execute("SELECT count(*), max(id) FROM feedback").fetchone()
    return int(count), last


def feedback_vectors(db: sqlite3.Connection, dim: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(query vectors, case ids, +1 helpful / -1 not) of feedback embedded at `dim`."""
    rows = db.execute("SELECT query_vector, case_id, helpful FROM feedback "
                      "WHERE query_vector IS NOT NULL").fetchall()
    rows = [r for r in rows if len(r[0]) == dim * 4]  # vectors of another model are ignored
    vectors = (np.vstack([np.frombuffer(r[0], np.float32) for r in rows])
               if rows else np.zeros((0, dim), np.float32))
    return vectors, [r[1] for r in rows], np.array([1.0 if r[2] else -1.0 for r in rows])


def save_draft(store: Database, token: str, values: dict[str, object]) -> bool:
    """Autosave; skipped (False, the next change saves again) while an ingest holds the
    database, so typing never waits for a long import."""
    return store.try_write("INSERT OR REPLACE INTO drafts VALUES (?, ?, ?)",
                           (token, json.dumps(values, ensure_ascii=False, default=str), _now()))


def load_draft(db: sqlite3.Connection, token: str) -> dict[str, object] | None:
    row = db.execute("SELECT data FROM drafts WHERE id = ?", (token,)).fetchone()
    return json.loads(row[0]) if row else None


def delete_draft(db: sqlite3.Connection, token: str) -> None:
    db.execute("DELETE FROM drafts WHERE id = ?", (token,))


def mark_retrieved(store: Database, document_ids: list[str], now: str) -> bool:
    """Note when manuals were last useful; skipped (False) while a writer holds the base."""
    holes = ", ".join("?" * len(document_ids))
    return store.try_write(f"UPDATE documents SET last_retrieved_at = ? WHERE id IN ({holes})",
                           [now, *document_ids])
