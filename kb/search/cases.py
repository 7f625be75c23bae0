"""Hybrid search over cases: dense (FAISS) and lexical (FTS5 BM25) candidates, fused.

Both halves see the same filters inside their own query (SQL WHERE, FAISS ID
selector), so filters act before the top-k cut. Every candidate gets both raw
scores (the missing half is computed exactly), so fusion compares like with like.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np

from kb.embeddings import Embedder
from kb.index import analyser
from kb.index import bm25_memory as lexical_index
from kb.index.faiss import VectorIndex
from kb.search.feedback import FeedbackIndex
from kb.search.filters import Filters
from kb.search.fusion import DEFAULT_DENSE_PRIOR, DEFAULT_FUSION, fuse
from kb.search.results import MODES, CaseHit, SearchResult
from kb.storage.database import Store

# Resolution text (cause/response/prevention) counts less than what the customer said.
FTS_WEIGHTS = (1.0, 0.4)
_SHOWN_FIELDS = ("title", "content", "customer_request", "cause", "response", "prevention")


def search_cases(
    store: Store,
    index: VectorIndex,
    embedder: Embedder,
    query: str,
    top_k: int = 10,
    mode: str = "hybrid",
    filters: Filters | None = None,
    fusion: str = DEFAULT_FUSION,
    query_vector: np.ndarray | None = None,
    dense_prior: float = DEFAULT_DENSE_PRIOR,
    feedback: FeedbackIndex | None = None,
) -> SearchResult:
    """Rank past cases for a free-text complaint; see module docstring."""
    if mode not in MODES:
        raise ValueError(f"unknown mode '{mode}' (choose from {', '.join(MODES)})")
    started = time.perf_counter()
    filters = filters or Filters()
    query = query.strip()
    if not query or top_k <= 0:
        return SearchResult(query, mode, [], 0.0)
    depth = max(100, 5 * top_k)
    match = analyser.fts_query(query)

    qvec = None
    if mode != "lexical":
        qvec = query_vector if query_vector is not None else embedder.encode_queries([query])[0]
    found = gather(store, index, qvec, match, depth, filters, mode)
    boosts = feedback.boosts(qvec) if feedback is not None and qvec is not None else {}
    if mode == "hybrid":
        # Cases marked helpful for a near-identical query join the candidates (unfiltered only).
        extra = [c for c, b in boosts.items() if b > 0] if filters.is_empty() else []
        candidates, d, lx = found.complete(store, index, qvec, match, extra)
        fused = fuse(fusion, d, lx, dense_prior) if candidates else np.zeros(0)
        if boosts:
            fused = fused + np.array([boosts.get(c, 0.0) for c in candidates])
        ranked = [candidates[i] for i in np.argsort(-fused, kind="stable")[:top_k]]
        final = dict(zip(candidates, fused.tolist(), strict=True))
    else:
        source = found.dense if mode == "dense" else found.lexical
        ranked = sorted(source, key=source.get, reverse=True)[:top_k]
        final = source
    dense, lexical = found.dense, found.lexical
    dense_chunk, lexical_chunk = found.dense_chunk, found.lexical_chunk

    cases = store.get_cases(ranked)
    best = store.chunk_owners([c for c in (dense_chunk.get(r) or lexical_chunk.get(r)
                                           for r in ranked) if c is not None])
    # Bare numbers (一 normalises to 1) match everywhere and explain nothing.
    query_terms = {t for t in analyser.tokens(query) if not t.isdigit()}
    hits: list[CaseHit] = []
    for case_id in ranked:
        case = cases[case_id]
        chunk = dense_chunk.get(case_id) or lexical_chunk.get(case_id)
        terms, where = _matches(case, query_terms)
        hits.append(CaseHit(
            case=case, score=float(final[case_id]),
            dense_score=dense.get(case_id), lexical_score=lexical.get(case_id),
            best_chunks=[best[chunk][2]] if chunk in best else [],
            matched_terms=terms, matched_fields=where))
    return SearchResult(query, mode, hits, (time.perf_counter() - started) * 1000)


@dataclass
class Candidates:
    """Per-case best scores (and best chunk) from each half of the search."""

    dense: dict[str, float] = field(default_factory=dict)
    lexical: dict[str, float] = field(default_factory=dict)
    dense_chunk: dict[str, int] = field(default_factory=dict)
    lexical_chunk: dict[str, int] = field(default_factory=dict)

    def complete(self, store: Store, index: VectorIndex, qvec: np.ndarray | None,
                 match: str, extra: list[str] | None = None
                 ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Union of candidates (plus `extra` case ids) with both scores filled in exactly."""
        candidates = list(dict.fromkeys([*self.dense, *self.lexical, *(extra or [])]))
        if extra:
            present = store.get_cases([c for c in extra if c not in self.dense])
            candidates = [c for c in candidates if c in self.dense or c in self.lexical
                          or c in present]
        _complete_dense(store, index, qvec, [c for c in candidates if c not in self.dense],
                        self.dense)
        _complete_lexical(store, match, [c for c in candidates if c not in self.lexical],
                          self.lexical)
        d = np.array([self.dense.get(c, 0.0) for c in candidates])
        lx = np.array([self.lexical.get(c, 0.0) for c in candidates])
        return candidates, d, lx


def gather(store: Store, index: VectorIndex, qvec: np.ndarray | None, match: str, depth: int,
           filters: Filters, mode: str) -> Candidates:
    """Top chunks from FAISS and/or FTS5 (filters applied inside each), grouped per case."""
    found = Candidates()
    memory = _lexical_index(store)
    if mode in ("hybrid", "dense") and qvec is not None:
        allowed = None if filters.is_empty() else store.allowed_vector_chunks(filters)
        scores, ids = index.search(qvec, depth, allowed)
        owners = _owners(store, memory, ids.tolist())
        for score, cid in zip(scores.tolist(), ids.tolist(), strict=True):
            case_id = owners.get(cid)
            if case_id is not None and score > found.dense.get(case_id, -np.inf):
                found.dense[case_id], found.dense_chunk[case_id] = score, cid
    if mode in ("hybrid", "lexical"):
        if memory is not None:
            allowed = None if filters.is_empty() else _allowed_chunks(store, filters)
            rows = memory.top(lexical_index.match_terms(match), depth, allowed)
        else:
            rows = store.lexical_search(match, depth, filters, FTS_WEIGHTS)
        owners = _owners(store, memory, [cid for cid, _ in rows])
        for cid, score in rows:
            case_id = owners[cid]
            if score > found.lexical.get(case_id, -np.inf):
                found.lexical[case_id], found.lexical_chunk[case_id] = score, cid
    return found


def _complete_dense(store: Store, index: VectorIndex, qvec: np.ndarray | None,
                    case_ids: list[str], dense: dict[str, float]) -> None:
    """Exact cosine for candidates only the lexical half found."""
    if qvec is None or not case_ids:
        return
    memory = _lexical_index(store)
    owned = (memory.chunks_of(case_ids, with_vector=True) if memory is not None
             else store.chunks_of(case_ids, with_vector=True))
    for case_id, chunk_ids in owned.items():
        dense[case_id] = float((index.vectors_for(chunk_ids) @ qvec).max())


def _complete_lexical(store: Store, match: str, case_ids: list[str],
                      lexical: dict[str, float]) -> None:
    """Exact BM25 for candidates only the dense half found (0 when no term occurs)."""
    if not match or not case_ids:
        return
    memory = _lexical_index(store)
    owned = memory.chunks_of(case_ids) if memory is not None else store.chunks_of(case_ids)
    chunk_case = {cid: case_id for case_id, ids in owned.items() for cid in ids}
    scores = (memory.scores_of(lexical_index.match_terms(match), list(chunk_case))
              if memory is not None else
              store.lexical_scores_of(match, list(chunk_case), FTS_WEIGHTS))
    for cid, score in scores.items():
        case_id = chunk_case[cid]
        lexical[case_id] = max(score, lexical.get(case_id, 0.0))


def _lexical_index(store: Store) -> lexical_index.LexicalIndex | None:
    """BM25 in memory on a large base (kb/index/bm25_memory.py), rebuilt when cases change."""
    # "vectors_version" (knowledge_base.CASES_KEY) moves with every write to the cases.
    return lexical_index.for_store(store, store.index_version("vectors_version"), FTS_WEIGHTS)


def _owners(store: Store, memory: lexical_index.LexicalIndex | None,
            chunk_ids: list[int]) -> dict[int, str]:
    """chunk id -> case id, from memory on a large base."""
    if memory is not None:
        return memory.owners_of(chunk_ids)
    return {cid: owner[0] for cid, owner in store.chunk_owners(chunk_ids).items()}


def _allowed_chunks(store: Store, filters: Filters) -> np.ndarray:
    """Every chunk (embedded or not) of the cases the filters admit."""
    where, params = filters.sql()
    rows = store.db.execute(f"SELECT c.id FROM chunks c JOIN cases k ON k.id = c.case_id "
                            f"WHERE {where}", params).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


@functools.lru_cache(maxsize=20_000)
def _field_tokens(text: str) -> frozenset[str]:
    """Tokens of a shown field. Cached: analysing the ~60 fields of ten shown cases took
    ~20 ms per search at 100k cases, and the same cases (and stock phrasings of cause,
    response and prevention) come back across searches."""
    return frozenset(analyser.tokens(text))


def _matches(case: object, query_terms: set[str]) -> tuple[list[str], list[str]]:
    """Query terms found in the case, and the fields they were found in."""
    terms: dict[str, None] = {}
    where: list[str] = []
    if not query_terms:
        return [], []
    for name in _SHOWN_FIELDS:
        text = getattr(case, name)
        if not text:
            continue
        found = query_terms.intersection(_field_tokens(text))
        if found:
            where.append(name)
            terms.update(dict.fromkeys(sorted(found)))
    return list(terms), where
