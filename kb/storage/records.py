"""Small records beside the cases: staff feedback on results, and record-form drafts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import sqlite3
from dataclasses import dataclass

import numpy as np

from ingest.case_form import NAME_FIELDS
from ingest.masking import TOKENS, mask_text
from ingest.values import scrub
from kb.errors import KnowledgeBaseError
from kb.settings import Settings
from kb.storage.database import Database, rollback


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
        rollback(db)
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


# A draft token is the URL's ?draft=…: 24 random bytes (secrets.token_urlsafe), so it cannot be
# guessed; shorter or odd tokens (hand-typed, or from before) are never looked up.
DRAFT_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


def new_draft_token() -> str:
    return secrets.token_urlsafe(24)


def is_draft_token(token: str) -> bool:
    return bool(DRAFT_TOKEN.fullmatch(token))


def _draft_key(token: str, owner: str) -> str:
    """The row's key: a hash of the token and the browser that wrote it, so the same URL
    opened in another browser (another owner) finds nothing, and the token is not stored."""
    return hashlib.sha256(f"{owner}\0{token}".encode()).hexdigest()


def _masked(values: dict[str, object]) -> dict[str, object]:
    """Drafts hold personal data as typed; store them masked like every case (and without
    what SQLite cannot take, such as half a surrogate pair): a name field (受付者) whole."""
    return {scrub(str(k)): (TOKENS["name"] if k in NAME_FIELDS and v.strip()
                            else mask_text(scrub(v))[0]) if isinstance(v, str) else v
            for k, v in values.items()}


def save_draft(store: Database, token: str, values: dict[str, object], owner: str,
               max_age_days: float | None = None) -> bool:
    """Autosave (masked), dropping drafts untouched for `max_age_days`; skipped (False, the
    next change saves again) while an ingest holds the database, so typing never waits."""
    if not DRAFT_TOKEN.fullmatch(token):
        raise KnowledgeBaseError(f"draft token {token[:70]!r} is not one this program made; "
                                 "open the record page again for a new draft")
    data = json.dumps(_masked(values), ensure_ascii=False, default=str)
    return (store.try_write("INSERT OR REPLACE INTO drafts VALUES (?, ?, ?)",
                            (_draft_key(token, owner), data, _now()))
            and store.try_write("DELETE FROM drafts WHERE updated_at < ?",
                                (_cutoff(max_age_days),)))


def load_draft(db: sqlite3.Connection, token: str, owner: str,
               max_age_days: float | None = None) -> dict[str, object] | None:
    """This browser's draft under `token`, unless it expired; None otherwise."""
    if not DRAFT_TOKEN.fullmatch(token):
        return None
    row = db.execute("SELECT data FROM drafts WHERE id = ? AND updated_at >= ?",
                     (_draft_key(token, owner), _cutoff(max_age_days))).fetchone()
    return json.loads(row[0]) if row else None


def delete_draft(db: sqlite3.Connection, token: str, owner: str) -> None:
    db.execute("DELETE FROM drafts WHERE id = ?", (_draft_key(token, owner),))


def _cutoff(max_age_days: float | None) -> str:
    """Drafts older than this are gone: `max_age_days`, else KB_DRAFT_DAYS (7)."""
    days = Settings.from_env().draft_days if max_age_days is None else max_age_days
    then = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    return then.isoformat(timespec="seconds")


def mark_retrieved(store: Database, document_ids: list[str], now: str) -> bool:
    """Note when manuals were last useful; skipped (False) while a writer holds the base."""
    holes = ", ".join("?" * len(document_ids))
    return store.try_write(f"UPDATE documents SET last_retrieved_at = ? WHERE id IN ({holes})",
                           [now, *document_ids])
