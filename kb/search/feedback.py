"""Staff feedback: stored with its query, used as judgments and as a ranking signal.

Ranking: when a new query is close to queries that got feedback, cases marked
helpful there move up and cases marked not helpful move down, in proportion to
how close the queries are. Only near-paraphrases count (cosine >= MIN_SIMILARITY,
and >= MIN_SIMILARITY_NEGATIVE for "not helpful"); unrelated feedback never
touches a ranking. BENCHMARKS.md has the measurement.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

import numpy as np

MIN_SIMILARITY = 0.75
# "Not helpful" only says the case did not fit that very question; applied to merely
# similar queries it demoted cases that did fit (bench/feedback_study.py).
MIN_SIMILARITY_NEGATIVE = 0.9
WEIGHT = 1.0  # in the z-score units of the fused hybrid score


@dataclass(frozen=True)
class Feedback:
    query: str
    case_id: str
    helpful: bool
    rank: int | None
    mode: str
    created_at: str


def record(db: sqlite3.Connection, query: str, query_vector: np.ndarray | None, case_id: str,
           helpful: bool, rank: int | None = None, mode: str = "") -> None:
    """Store one judgment; a later judgment of the same query and case replaces it."""
    blob = None if query_vector is None else np.asarray(query_vector, np.float32).tobytes()
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("DELETE FROM feedback WHERE query = ? AND case_id = ?", (query, case_id))
        db.execute("INSERT INTO feedback (query, query_vector, case_id, helpful, rank, mode, "
                   "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (query, blob, case_id, int(helpful), rank, mode, now))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def all_feedback(db: sqlite3.Connection) -> list[Feedback]:
    rows = db.execute("SELECT query, case_id, helpful, rank, mode, created_at FROM feedback "
                      "ORDER BY id").fetchall()
    return [Feedback(q, c, bool(h), r, m, t) for q, c, h, r, m, t in rows]


def judgments(db: sqlite3.Connection) -> tuple[list[tuple[str, str]], dict[str, dict[str, float]]]:
    """Queries (id, text) and qrels from feedback: helpful = relevant (grade 1).

    Queries with only 'not helpful' marks have no relevant case and are left out.
    """
    texts: dict[str, str] = {}
    qrels: dict[str, dict[str, float]] = {}
    for item in all_feedback(db):
        qid = texts.setdefault(item.query, f"fb{len(texts) + 1}")
        if item.helpful:
            qrels.setdefault(qid, {})[item.case_id] = 1.0
    queries = [(qid, text) for text, qid in texts.items() if qid in qrels]
    return queries, qrels


class FeedbackIndex:
    """Query vectors with their judgments, loaded once per state of the base."""

    def __init__(self, db: sqlite3.Connection, dim: int) -> None:
        rows = db.execute("SELECT query_vector, case_id, helpful FROM feedback "
                          "WHERE query_vector IS NOT NULL").fetchall()
        rows = [r for r in rows if len(r[0]) == dim * 4]  # vectors of another model are ignored
        self.vectors = (np.vstack([np.frombuffer(r[0], np.float32) for r in rows])
                        if rows else np.zeros((0, dim), np.float32))
        self.case_ids = [r[1] for r in rows]
        self.signs = np.array([1.0 if r[2] else -1.0 for r in rows])

    def __len__(self) -> int:
        return len(self.case_ids)

    def boosts(self, query_vector: np.ndarray) -> dict[str, float]:
        """Score adjustment per case for this query (empty when no similar query had feedback)."""
        if not len(self):
            return {}
        sims = self.vectors @ np.asarray(query_vector, np.float32)
        out: dict[str, float] = {}
        for i in np.flatnonzero(sims >= MIN_SIMILARITY):
            if self.signs[i] < 0 and sims[i] < MIN_SIMILARITY_NEGATIVE:
                continue
            strength = (sims[i] - MIN_SIMILARITY) / (1.0 - MIN_SIMILARITY) * 0.5 + 0.5
            out[self.case_ids[i]] = out.get(self.case_ids[i], 0.0) + WEIGHT * strength * self.signs[i]
        return out
