"""Hybrid search over cases: dense and lexical candidates (kb/index/base.py backends), fused.

Both halves see the same filters inside their own query (SQL WHERE, FAISS ID
selector), so filters act before the top-k cut. Every candidate gets both raw
scores (the missing half is computed exactly), so fusion compares like with like.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from kb.index import analyser
from kb.index.base import LexicalBackend, VectorBackend
from kb.search.feedback import FeedbackIndex
from kb.search.fusion import DEFAULT_DENSE_PRIOR, DEFAULT_FUSION, fuse
from kb.search.results import MODES, CaseHit, SearchResult
from kb.storage.cases import Store
from kb.storage.filters import Filters

_SHOWN_FIELDS = ("title", "content", "customer_request", "cause", "response", "prevention")


def search_cases(
    store: Store,
    index: VectorBackend,
    lexical: LexicalBackend,
    query: str,
    query_vector: np.ndarray | None,
    top_k: int = 10,
    mode: str = "hybrid",
    filters: Filters | None = None,
    fusion: str = DEFAULT_FUSION,
    dense_prior: float = DEFAULT_DENSE_PRIOR,
    feedback: FeedbackIndex | None = None,
) -> SearchResult:
    """Rank past cases for a free-text complaint (`query_vector`: its embedding, None in
    lexical mode); see module docstring."""
    if mode not in MODES:
        raise ValueError(f"unknown mode '{mode}' (choose from {', '.join(MODES)})")
    started = time.perf_counter()
    filters = filters or Filters()
    query = query.strip()
    if not query or top_k <= 0:
        return SearchResult(query, mode, [], 0.0)
    match = analyser.fts_query(query)
    qvec = query_vector if mode != "lexical" else None
    found = gather(store, index, lexical, qvec, match, max(100, 5 * top_k), filters, mode)
    if mode == "hybrid":
        ranked, final = _fused(found, store, index, lexical, qvec, match, filters, fusion,
                               dense_prior, feedback, top_k)
    else:
        final = found.dense if mode == "dense" else found.lexical
        ranked = sorted(final, key=final.get, reverse=True)[:top_k]
    hits = _hits(store, found, ranked, final, query)
    return SearchResult(query, mode, hits, (time.perf_counter() - started) * 1000)


def _fused(found: Candidates, store: Store, index: VectorBackend, lexical: LexicalBackend,
           qvec: np.ndarray | None, match: str, filters: Filters, fusion: str,
           dense_prior: float, feedback: FeedbackIndex | None, top_k: int
           ) -> tuple[list[str], dict[str, float]]:
    """Both halves' scores for every candidate, fused, plus staff feedback."""
    boosts = feedback.boosts(qvec) if feedback is not None and qvec is not None else {}
    # Cases marked helpful for a near-identical query join the candidates (unfiltered only).
    extra = [c for c, b in boosts.items() if b > 0] if filters.is_empty() else []
    candidates, d, lx = found.complete(store, index, lexical, qvec, match, extra)
    fused = fuse(fusion, d, lx, dense_prior) if candidates else np.zeros(0)
    if boosts:
        fused = fused + np.array([boosts.get(c, 0.0) for c in candidates])
    ranked = [candidates[i] for i in np.argsort(-fused, kind="stable")[:top_k]]
    return ranked, dict(zip(candidates, fused.tolist(), strict=True))


def _hits(store: Store, found: Candidates, ranked: list[str], final: dict[str, float],
          query: str) -> list[CaseHit]:
    """The ranked cases with both scores, their best chunk and the words that matched."""
    cases = store.get_cases(ranked)
    best_chunk = {r: found.dense_chunk.get(r) or found.lexical_chunk.get(r) for r in ranked}
    texts = store.chunk_owners([c for c in best_chunk.values() if c is not None])
    # Shown as typed; single characters, bare numbers and stop words explain nothing.
    words = analyser.typed_words(query)
    hits: list[CaseHit] = []
    for case_id in ranked:
        case = cases.get(case_id)
        if case is None:  # deleted since the index answered (Milvus applies after the commit)
            continue
        chunk = best_chunk[case_id]
        terms, where = _matches(case, set(words))
        hits.append(CaseHit(
            case=case, score=float(final[case_id]),
            dense_score=found.dense.get(case_id), lexical_score=found.lexical.get(case_id),
            best_chunks=[texts[chunk][2]] if chunk in texts else [],
            matched_terms=list(dict.fromkeys(words[t] for t in terms)), matched_fields=where,
            coverage=len(terms) / len(words) if words else None))
    return hits


@dataclass
class Candidates:
    """Per-case best scores (and best chunk) from each half of the search."""

    dense: dict[str, float] = field(default_factory=dict)
    lexical: dict[str, float] = field(default_factory=dict)
    dense_chunk: dict[str, int] = field(default_factory=dict)
    lexical_chunk: dict[str, int] = field(default_factory=dict)

    def complete(self, store: Store, index: VectorBackend, lexical: LexicalBackend,
                 qvec: np.ndarray | None, match: str, extra: list[str] | None = None
                 ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Union of candidates (plus `extra` case ids) with both scores filled in exactly."""
        candidates = list(dict.fromkeys([*self.dense, *self.lexical, *(extra or [])]))
        if extra:
            present = store.get_cases([c for c in extra if c not in self.dense])
            candidates = [c for c in candidates if c in self.dense or c in self.lexical
                          or c in present]
        _complete_dense(index, lexical, qvec, [c for c in candidates if c not in self.dense],
                        self.dense)
        _complete_lexical(lexical, match, [c for c in candidates if c not in self.lexical],
                          self.lexical)
        d = np.array([self.dense.get(c, 0.0) for c in candidates])
        lx = np.array([self.lexical.get(c, 0.0) for c in candidates])
        return candidates, d, lx


def gather(store: Store, index: VectorBackend, lexical: LexicalBackend, qvec: np.ndarray | None,
           match: str, depth: int, filters: Filters, mode: str) -> Candidates:
    """Top chunks from each backend (filters applied inside each), grouped per case."""
    found = Candidates()
    if mode in ("hybrid", "dense") and qvec is not None:
        if filters.is_empty():
            scores, ids = index.search(qvec, depth)
        elif getattr(index, "filters_natively", False):  # Milvus: its own filter fields
            scores, ids = index.search(qvec, depth, filters=filters)
        else:  # FAISS: the admitted chunk ids, from the record store
            scores, ids = index.search(qvec, depth, store.allowed_chunks(filters))
        _keep_best(lexical.owners_of(ids.tolist()), zip(ids.tolist(), scores.tolist(),
                                                         strict=True), found.dense,
                   found.dense_chunk)
    if mode in ("hybrid", "lexical"):
        rows = lexical.top(match, depth, filters)
        _keep_best(lexical.owners_of([cid for cid, _ in rows]), rows, found.lexical,
                   found.lexical_chunk)
    return found


def _keep_best(owners: dict[int, str], scored: Iterable[tuple[int, float]],
               best: dict[str, float], best_chunk: dict[str, int]) -> None:
    """Per case, the best score among its chunks and which chunk had it."""
    for cid, score in scored:
        case_id = owners.get(cid)
        if case_id is not None and score > best.get(case_id, -np.inf):
            best[case_id], best_chunk[case_id] = score, cid


def _complete_dense(index: VectorBackend, lexical: LexicalBackend, qvec: np.ndarray | None,
                    case_ids: list[str], dense: dict[str, float]) -> None:
    """Exact cosine for candidates only the lexical half found."""
    if qvec is None or not case_ids:
        return
    owned = lexical.chunks_of(case_ids, with_vector=True)
    every = [cid for chunk_ids in owned.values() for cid in chunk_ids]
    if not every:
        return
    # One call for every candidate: a server index answers it in one round trip, not 100.
    cosine = dict(zip(every, (index.vectors_for(every) @ qvec).tolist(), strict=True))
    for case_id, chunk_ids in owned.items():
        dense[case_id] = float(max(cosine[c] for c in chunk_ids))


def _complete_lexical(lexical: LexicalBackend, match: str, case_ids: list[str],
                      scores: dict[str, float]) -> None:
    """Exact BM25 for candidates only the dense half found (0 when no term occurs)."""
    if not match or not case_ids:
        return
    chunk_case = {cid: case_id for case_id, ids in lexical.chunks_of(case_ids).items()
                  for cid in ids}
    for cid, score in lexical.scores_of(match, list(chunk_case)).items():
        case_id = chunk_case[cid]
        scores[case_id] = max(score, scores.get(case_id, 0.0))


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
