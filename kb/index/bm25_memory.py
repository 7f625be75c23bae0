"""BM25 over the FTS5 rows, held in memory as a sparse matrix, for large bases.

FTS5 scores every row an OR query matches, and its bm25() re-reads each term's posting
list per statement (and, for `rowid IN (...)`, per row): at 100k cases a complaint-style
query took ~300 ms for the top 100 and over a second to score the dense half's candidates.
This index is derived from the FTS5 table like FAISS from the vectors (rebuilt when the
cases change) and computes FTS5's own bm25() formula (k1 1.2, b 0.75, column weights,
IDF clamped to 1e-6, document length in unicode61 tokens), so scores match FTS5's and the
fusion is unchanged; tests compare the two. Small bases keep using FTS5 directly.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from scipy import sparse

from kb.index import analyser
from kb.index.base import LexicalBackend, atomic_write, save_or_serve
from kb.index.fts5 import CASE_WEIGHTS, Fts5Cases
from kb.storage.cases import Store
from kb.storage.filters import Filters

log = logging.getLogger(__name__)
K1, B = 1.2, 0.75
# Rows (chunks) from which search uses this index; below it FTS5 is fast enough. On the
# 2,031 chunks of JaQuAD's paragraphs FTS5's exact scores of the dense-only candidates took
# 10 ms of a 26 ms search (long queries, `rowid IN` per term), the in-memory index 1-2 ms;
# building it took 0.18 s, paid once per state version (BENCHMARKS.md).
MIN_ROWS = 1_000
_UNICODE61 = analyser.FTS_TERM  # what FTS5's unicode61 counts as terms


class LexicalIndex:
    """term x row matrix of BM25 term weights (without IDF) and per-term IDF."""

    def __init__(self, rowids: np.ndarray, owners: list[str], terms: list[str],
                 matrix: sparse.csr_matrix, idf: np.ndarray, embedded: np.ndarray) -> None:
        self.rowids = rowids
        self.embedded = embedded  # rows that have a vector (in FAISS)
        # Owner case of each row: looking it up in SQLite cost ~5 ms per 100 ids at 100k
        # cases (each chunk row holds its 2 KB vector, so every lookup reads a page).
        self.owners = owners
        self.terms = terms
        self.term_of = {t: i for i, t in enumerate(terms)}
        self.matrix = matrix
        self.idf = idf
        self.rows_of: dict[str, list[int]] = {}
        for position, owner in enumerate(owners):
            self.rows_of.setdefault(owner, []).append(position)

    @classmethod
    def build(cls, rows: Iterable[tuple[int, str, str, str, bool]],
              weights: tuple[float, float]) -> LexicalIndex:
        """Compute BM25 term weights of every FTS5 row, read once (Store.iter_fts_rows)."""
        rowids: list[int] = []
        owners: list[str] = []
        embedded: list[bool] = []
        lengths: list[int] = []
        term_of: dict[str, int] = {}
        cols: list[int] = []
        terms: list[int] = []
        freqs: list[float] = []
        for rowid, primary, secondary, case_id, has_vector in rows:
            position = len(rowids)
            rowids.append(rowid)
            owners.append(case_id)
            embedded.append(bool(has_vector))
            row: dict[int, float] = {}
            for text, weight in ((primary or "", weights[0]), (secondary or "", weights[1])):
                for token in _UNICODE61.findall(text):  # FTS5's terms, not our tokens
                    t = term_of.setdefault(token, len(term_of))
                    row[t] = row.get(t, 0.0) + weight
            lengths.append(len(_UNICODE61.findall(primary or ""))
                           + len(_UNICODE61.findall(secondary or "")))
            cols.extend([position] * len(row))
            terms.extend(row)
            freqs.extend(row.values())
        n = len(rowids)
        doc_len = np.asarray(lengths, dtype=np.float64)
        avgdl = max(float(doc_len.mean()) if n else 1.0, 1e-9)
        freq = np.asarray(freqs, dtype=np.float64)
        col = np.asarray(cols, dtype=np.int64)
        norm = K1 * (1 - B + B * doc_len[col] / avgdl)
        data = freq * (K1 + 1) / (freq + norm)
        matrix = sparse.csr_matrix((data, (np.asarray(terms, dtype=np.int64), col)),
                                   shape=(len(term_of), n))
        hits = np.diff(matrix.indptr).astype(np.float64)  # rows holding each term
        idf = np.log((n - hits + 0.5) / (hits + 0.5))
        return cls(np.asarray(rowids, dtype=np.int64), owners, list(term_of), matrix,
                   np.where(idf <= 0, 1e-6, idf), np.asarray(embedded, dtype=bool))

    def save(self, path: Path, version: int) -> None:
        """Atomically, like the FAISS file: a restart then skips the build (seconds at 100k)."""
        atomic_write(path, lambda handle: np.savez(
            handle, version=np.int64(version), rowids=self.rowids,
            owners=np.asarray(self.owners, dtype=str), terms=np.asarray(self.terms, dtype=str),
            data=self.matrix.data, indices=self.matrix.indices, indptr=self.matrix.indptr,
            shape=np.asarray(self.matrix.shape), idf=self.idf, embedded=self.embedded),
            suffix=".tmp.npz")

    @classmethod
    def load(cls, path: Path, version: int) -> LexicalIndex | None:
        """The saved index if it reflects `version`, else None (missing, stale, unreadable)."""
        try:
            with np.load(path) as saved:
                if int(saved["version"]) != version:
                    return None
                matrix = sparse.csr_matrix((saved["data"], saved["indices"], saved["indptr"]),
                                           shape=tuple(saved["shape"]))
                return cls(saved["rowids"], saved["owners"].tolist(), saved["terms"].tolist(),
                           matrix, saved["idf"], saved["embedded"])
        except (OSError, ValueError, KeyError, EOFError):
            return None

    def __len__(self) -> int:
        return len(self.rowids)

    def scores(self, match_terms: list[str]) -> np.ndarray:
        """BM25 of every row (0 where no term occurs), in row order."""
        ids = [self.term_of[t] for t in match_terms if t in self.term_of]
        if not ids:
            return np.zeros(len(self.rowids))
        picked = self.matrix[ids]
        return np.asarray(picked.T @ self.idf[ids]).ravel()

    def top(self, match_terms: list[str], limit: int,
            allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(chunk id, score) of the best matching rows; `allowed` restricts to those ids."""
        scores = self.scores(match_terms)
        if allowed is not None:
            keep = np.zeros(len(scores), dtype=bool)
            keep[self.positions(allowed)] = True
            scores = np.where(keep, scores, 0.0)
        matched = np.flatnonzero(scores > 0)
        if len(matched) > limit:
            matched = matched[np.argpartition(-scores[matched], limit - 1)[:limit]]
        order = matched[np.argsort(-scores[matched], kind="stable")]
        return [(int(self.rowids[i]), float(scores[i])) for i in order]

    def scores_of(self, match_terms: list[str], chunk_ids: list[int]) -> dict[int, float]:
        """BM25 of given chunks, only those where some term occurs (as FTS5 returns them)."""
        if not chunk_ids:
            return {}
        ids = [self.term_of[t] for t in match_terms if t in self.term_of]
        if not ids:
            return {}
        positions = self.positions(np.asarray(chunk_ids, dtype=np.int64))
        picked = self.matrix[ids][:, positions]
        values = np.asarray(picked.T @ self.idf[ids]).ravel()
        return {int(self.rowids[p]): float(v) for p, v in zip(positions, values, strict=True)
                if v > 0}

    def owners_of(self, chunk_ids: list[int]) -> dict[int, str]:
        """chunk id -> case id, for rows this index holds."""
        ids = np.asarray(chunk_ids, dtype=np.int64)
        positions = self.positions(ids)
        return {int(self.rowids[p]): self.owners[p] for p in positions.tolist()}

    def chunks_of(self, case_ids: list[str], with_vector: bool = False) -> dict[str, list[int]]:
        """case id -> its chunk ids (only embedded ones if `with_vector`), as Store.chunks_of."""
        out: dict[str, list[int]] = {}
        for case_id in case_ids:
            rows = [p for p in self.rows_of.get(case_id, ())
                    if not with_vector or self.embedded[p]]
            if rows:
                out[case_id] = [int(self.rowids[p]) for p in rows]
        return out

    def positions(self, chunk_ids: np.ndarray) -> np.ndarray:
        found = np.searchsorted(self.rowids, chunk_ids)
        found = np.clip(found, 0, max(len(self.rowids) - 1, 0))
        return found[self.rowids[found] == chunk_ids] if len(self.rowids) else found[:0]


def match_terms(match: str) -> list[str]:
    """The terms of an FTS5 OR-query built by analyser.fts_query."""
    return [t[1:-1].replace('""', '"') for t in match.split(" OR ")] if match else []


class MemoryBm25:
    """The cases' lexical backend on a large base (LexicalBackend): FTS5's scores, from memory."""

    def __init__(self, index: LexicalIndex, store: Store) -> None:
        self.index, self.store = index, store

    def top(self, match: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        allowed = None if filters.is_empty() else self.store.allowed_chunks(filters,
                                                                            with_vector=False)
        return self.index.top(match_terms(match), k, allowed)

    def scores_of(self, match: str, chunk_ids: list[int]) -> dict[int, float]:
        return self.index.scores_of(match_terms(match), chunk_ids)

    def owners_of(self, chunk_ids: list[int]) -> dict[int, str]:
        return self.index.owners_of(chunk_ids)

    def chunks_of(self, case_ids: list[str], with_vector: bool = False) -> dict[str, list[int]]:
        return self.index.chunks_of(case_ids, with_vector)


_cache: weakref.WeakKeyDictionary[Store, tuple[int, LexicalIndex | None]] = (
    weakref.WeakKeyDictionary())


def memory_index(store: Store, path: Path, version: int,
                 weights: tuple[float, float]) -> LexicalIndex | None:
    """The in-memory index of a large base, rebuilt when its cases changed; None if small."""
    cached = _cache.get(store)
    if cached is not None and cached[0] == version:
        return cached[1]
    index = None
    if store.chunk_count() >= MIN_ROWS:
        index = LexicalIndex.load(path, version)
        if index is None:
            index = LexicalIndex.build(store.iter_fts_rows(), weights)
            # A reader saves it too, without the writer lock: on a full disk or a read-only
            # mount it serves from memory, as the FAISS index does.
            if save_or_serve(path, lambda: index.save(path, version), read_only_ok=True):
                log.info("built the in-memory BM25 index (%d rows) into %s", len(index), path.name)
    _cache[store] = (version, index)
    return index


def lexical_backend(store: Store, path: Path, version: int) -> LexicalBackend:
    """BM25 from memory on a large base, FTS5 directly on a small one (same scores)."""
    index = memory_index(store, path, version, CASE_WEIGHTS)
    return Fts5Cases(store) if index is None else MemoryBm25(index, store)


class MemoryPassages:
    """Manual passages' BM25 where the record store has no FTS5 (PostgreSQL): Fts5Table's
    `top` and `scores_of`, from an index built in memory and rebuilt when a passage changed.
    Manuals hold thousands of passages, not millions: a build takes milliseconds."""

    def __init__(self, index: LexicalIndex) -> None:
        self.index = index

    def top(self, match: str, k: int) -> list[tuple[int, float]]:
        return self.index.top(match_terms(match), k) if match and k > 0 else []

    def scores_of(self, match: str, chunk_ids: list[int]) -> dict[int, float]:
        return self.index.scores_of(match_terms(match), chunk_ids)


_passages: weakref.WeakKeyDictionary[object, tuple[tuple, LexicalIndex]] = (
    weakref.WeakKeyDictionary())


def memory_passages(docs: object, weights: tuple[float, float]) -> MemoryPassages:
    """The passages' in-memory BM25 for a store without FTS5 (`lexical_version`, `fts_rows`)."""
    version = docs.lexical_version()
    cached = _passages.get(docs)
    if cached is None or cached[0] != version:
        cached = (version, LexicalIndex.build(docs.fts_rows(), weights))
        _passages[docs] = cached
    return MemoryPassages(cached[1])
