"""SQLite FTS5 BM25 as a lexical backend: the default for cases and for manual passages.

The FTS5 tables live in the base's SQLite file and are written in the same
transaction as the rows they index (kb/storage/cases.py, documents.py), so they are
never stale; this module only queries them. Scores are -bm25() (higher is better).
"""

from __future__ import annotations

from typing import Any, Protocol

from kb.storage.cases import Store
from kb.storage.database import batches, marks
from kb.storage.filters import Filters

# Resolution text (cause/response/prevention) counts less than what the customer said.
CASE_WEIGHTS = (1.0, 0.4)
# A manual passage's heading counts half as much as its body.
PASSAGE_WEIGHTS = (0.5, 1.0)


class _HasConnection(Protocol):
    db: Any  # the base's sqlite3 connection (kb/storage)


class Fts5Table:
    """BM25 top-k and exact scores over one FTS5 table of two weighted columns."""

    def __init__(self, store: _HasConnection, table: str, weights: tuple[float, float]) -> None:
        assert table in ("chunks_fts", "doc_chunks_fts")
        self.store, self.table, self.weights = store, table, weights
        self._bm25 = f"bm25({table}, {weights[0]}, {weights[1]})"

    def top(self, match: str, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        if not match or k <= 0:
            return []
        if filters is None or filters.is_empty():
            sql = (f"SELECT rowid, {self._bm25} AS s FROM {self.table} WHERE {self.table} "
                   f"MATCH ? ORDER BY s LIMIT ?")
            params: list[object] = [match, k]
        else:  # only the cases' table carries case fields to filter on
            where, fparams = filters.sql()
            sql = (f"SELECT f.rowid, {self._bm25} AS s FROM {self.table} f "
                   f"JOIN chunks c ON c.id = f.rowid JOIN cases k ON k.id = c.case_id "
                   f"WHERE {self.table} MATCH ? AND {where} ORDER BY s LIMIT ?")
            params = [match, *fparams, k]
        return [(int(r[0]), -float(r[1])) for r in self.store.db.execute(sql, params)]

    def scores_of(self, match: str, chunk_ids: list[int]) -> dict[int, float]:
        if not match or not chunk_ids:
            return {}
        out: dict[int, float] = {}
        for part in batches([int(i) for i in chunk_ids]):
            for rowid, score in self.store.db.execute(
                    f"SELECT rowid, {self._bm25} FROM {self.table} WHERE {self.table} MATCH ? "
                    f"AND rowid IN ({marks(len(part))})", [match, *part]):
                out[int(rowid)] = -float(score)
        return out


class Fts5Cases(Fts5Table):
    """The cases' lexical backend on a small or medium base (LexicalBackend)."""

    def __init__(self, store: Store, weights: tuple[float, float] = CASE_WEIGHTS) -> None:
        super().__init__(store, "chunks_fts", weights)
        self.cases = store

    def owners_of(self, chunk_ids: list[int]) -> dict[int, str]:
        return {cid: owner[0] for cid, owner in self.cases.chunk_owners(chunk_ids).items()}

    def chunks_of(self, case_ids: list[str], with_vector: bool = False) -> dict[str, list[int]]:
        return self.cases.chunks_of(case_ids, with_vector)
