"""Which query terms the lexical half should send to FTS5, on a large base.

FTS5 scores every row that matches an OR query, and its BM25 reads each term's whole
posting list to count the rows holding it. A term in more than half of the rows gets an
IDF of 1e-6 from FTS5 (its formula goes negative there), so it adds nothing to any score
while costing a pass over most of the base. Such terms are left out of the MATCH once the
base is large enough for that to matter; the ranking is the same up to those 1e-6 terms.
"""

from __future__ import annotations

import sqlite3

from kb import analyser

# FTS5 clamps a term's IDF to 1e-6 when it occurs in at least half of the rows.
ZERO_IDF_SHARE = 0.5
# Below this many rows every query is fast: match exactly what the analyser produced.
MIN_ROWS = 20_000


class TermCounts:
    """Rows per term (FTS5 vocabulary), cached until the base changes."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.version = -1
        self.rows = 0
        self.counts: dict[str, int] = {}
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab "
                   "USING fts5vocab(main, chunks_fts, 'row')")

    def refresh(self, version: int) -> None:
        if version != self.version:
            self.rows = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            self.counts = {}
            self.version = version

    def of(self, terms: list[str]) -> dict[str, int]:
        todo = [t for t in terms if t not in self.counts]
        for term in todo:
            row = self.db.execute("SELECT doc FROM temp.chunks_vocab WHERE term = ?",
                                  (term,)).fetchone()
            self.counts[term] = int(row[0]) if row else 0
        return {t: self.counts[t] for t in terms}


def match_for(query: str, counts: TermCounts | None) -> str:
    """The FTS5 OR-query for `query`, without zero-IDF terms on a large base."""
    terms = list(dict.fromkeys(analyser.tokens(query)))
    if counts is not None and counts.rows >= MIN_ROWS:
        per_term = counts.of(terms)
        kept = [t for t in terms if per_term[t] < ZERO_IDF_SHARE * counts.rows]
        terms = kept
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
