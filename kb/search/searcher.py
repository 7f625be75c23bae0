"""Searches as staff run them: one committed snapshot, cases and manual passages together.

Holds what searches reuse between calls (the feedback vectors, when a manual was last
noted as retrieved), so the facade stays a list of delegations.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ingest.masking import mask_text
from ingest.values import scrub
from kb.embeddings import Embedder
from kb.index import analyser
from kb.index.indexes import Indexes
from kb.reports import Progress
from kb.search.cases import gather, search_cases
from kb.search.confidence import Bands, bands_for
from kb.search.feedback import FeedbackIndex
from kb.search.fusion import DEFAULT_FUSION, clamp_prior, default_dense_prior
from kb.search.passages import search_passages
from kb.search.results import SearchResult
from kb.storage import records
from kb.storage.filters import Filters

# Queries per encoder call in search_many: small enough that ranking starts early and the
# two halves overlap, large enough for the encoder's batch speed.
SEARCH_BATCH = 32
NOTE_RETRIEVED_EVERY = 3600.0  # seconds between two notes that one manual was useful
# A query is a complaint in someone's words; past this its tail adds nothing to the ranking
# (the model reads 512 tokens) and costs the lexical half thousands of terms.
MAX_QUERY_CHARS = 10_000


def clean_query(text: str) -> str:
    """What a search may take from anyone: no lone surrogate or control character (they
    break the analyser, the model and SQLite), at most MAX_QUERY_CHARS characters."""
    return scrub(text)[:MAX_QUERY_CHARS]


def annotate(result: SearchResult, bands: Bands | None) -> SearchResult:
    """Give each hit its 類似度 (needs the dense score: hybrid and dense modes)."""
    if bands is None:
        return result
    words = len(analyser.typed_words(result.query)) if result.hits else 0
    for hit in result.hits:
        if hit.dense_score is not None:
            hit.confidence = round(bands.confidence(hit.dense_score, hit.coverage, words), 4)
            hit.level = bands.level(hit.dense_score, hit.coverage, words)
    return result


class Searcher:
    """Runs searches on one base; callers serialise calls (KnowledgeBase's lock)."""

    def __init__(self, indexes: Indexes, embedder: Embedder) -> None:
        self.indexes, self.embedder = indexes, embedder
        self._retrieved: dict[str, float] = {}
        self._feedback_key: tuple[int, int | None] | None = None
        self._feedback_index: FeedbackIndex | None = None

    def dense_prior(self) -> float:
        """The fusion weight searches use: calibrated for this base (clamped to [0.2, 0.8]),
        else the default for its model (also when a calibration found no usable labels:
        what it stored then was the default of its day)."""
        manifest = self.indexes.store.manifest()
        record = manifest.calibration() or {}
        if manifest.fusion_dense_prior is None or record.get("dense_prior", 0) is None:
            return default_dense_prior(self.embedder.name)
        return clamp_prior(manifest.fusion_dense_prior)

    def search(self, query: str, top_k: int = 10, mode: str = "hybrid",
               filters: Filters | None = None, fusion: str = DEFAULT_FUSION,
               use_feedback: bool = True, passages: int = 5) -> SearchResult:
        """Cases (kb/search/cases.py) and manual passages (kb/search/passages.py)."""
        started = time.perf_counter()
        query, qvec = clean_query(query), None
        if mode != "lexical" and query.strip():
            qvec = self.embedder.encode_queries([query])[0]
        store, indexes = self.indexes.store, self.indexes
        # One snapshot: SQLite, FTS5 and the FAISS copies as of one committed state.
        with store.snapshot():
            indexes.sync()
            result = search_cases(store, indexes.case_vectors, indexes.lexical(), query, qvec,
                                  top_k, mode, filters, fusion, self.dense_prior(),
                                  self.feedback() if use_feedback else None)
            bands = bands_for(self.embedder.name)
            annotate(result, bands)
            if passages and indexes.docs.count():
                result.passages = search_passages(indexes.docs, indexes.passage_vectors, query,
                                                  qvec, passages, mode,
                                                  bands=bands)
            result.state_version = store.state_version()
        self._note_retrieved([p.document_id for p in result.passages])
        # What staff waited for: query embedding, cases and manual passages together.
        result.took_ms = (time.perf_counter() - started) * 1000
        return result

    def search_many(self, queries: list[str], top_k: int = 10, mode: str = "hybrid",
                    filters: Filters | None = None, fusion: str = DEFAULT_FUSION,
                    progress: Progress | None = None,
                    use_feedback: bool = True) -> list[SearchResult]:
        """Many queries, embedded in batches, all against one committed state. The next
        batch embeds in a background thread (the encoder releases the GIL) while this one
        searches, so embedding and ranking run on two cores at once (BENCHMARKS.md)."""
        queries = [clean_query(q) for q in queries]
        store, indexes = self.indexes.store, self.indexes
        with store.snapshot(), ThreadPoolExecutor(max_workers=1) as pool:
            indexes.sync()
            lexical, prior = indexes.lexical(), self.dense_prior()
            bands = bands_for(self.embedder.name)
            feedback = self.feedback() if use_feedback else None
            results: list[SearchResult] = []
            for batch, vectors in self._embedded_batches(queries, mode, pool):
                for query, vector in zip(batch, vectors, strict=True):
                    results.append(annotate(
                        search_cases(store, indexes.case_vectors, lexical, query, vector, top_k,
                                     mode, filters, fusion, prior, feedback), bands))
                    n = len(results)
                    if progress and (n % 50 == 0 or n == len(queries)):
                        progress(n, len(queries), "search")
            return results

    def _embedded_batches(self, queries: list[str], mode: str, pool: ThreadPoolExecutor
                          ) -> Iterator[tuple[list[str], np.ndarray | list[None]]]:
        """(batch, its vectors), the next batch's embedding started before this one is used."""
        batches = [queries[s : s + SEARCH_BATCH] for s in range(0, len(queries), SEARCH_BATCH)]
        if mode == "lexical":
            yield from ((b, [None] * len(b)) for b in batches)
            return
        pending = [pool.submit(self.embedder.encode_queries, b) for b in batches[:1]]
        for i, batch in enumerate(batches):
            if i + 1 < len(batches):
                pending.append(pool.submit(self.embedder.encode_queries, batches[i + 1]))
            yield batch, pending[i].result()

    def candidate_pools(self, queries: list[str]
                        ) -> list[tuple[list[str], np.ndarray, np.ndarray]]:
        """Hybrid candidates of each query with both raw scores, before fusion."""
        queries = [clean_query(q) for q in queries]
        vectors = self.embedder.encode_queries(queries) if queries else []
        store, indexes = self.indexes.store, self.indexes
        with store.snapshot():
            indexes.sync()
            lexical, pools = indexes.lexical(), []
            for query, qvec in zip(queries, vectors, strict=True):
                match = analyser.fts_query(query)
                found = gather(store, indexes.case_vectors, lexical, qvec, match, 100, Filters(),
                               "hybrid")
                pools.append(found.complete(store, indexes.case_vectors, lexical, qvec, match))
            return pools

    def record_feedback(self, query: str, case_id: str, helpful: bool, rank: int | None,
                        mode: str) -> None:
        """Store a staff judgment of one result with its query, masked first: staff may have
        typed the customer's phone number."""
        query, case_id = mask_text(clean_query(query))[0], scrub(case_id)
        vector = self.embedder.encode_queries([query])[0]
        records.record_feedback(self.indexes.store.db, query, vector, case_id, helpful, rank, mode)

    def feedback(self) -> FeedbackIndex | None:
        """Feedback vectors, reloaded only when feedback was added (by any process)."""
        db = self.indexes.store.db
        key = records.feedback_key(db)
        if key[0] == 0:
            return None
        if self._feedback_key != key:
            self._feedback_index = FeedbackIndex(*records.feedback_vectors(db, self.embedder.dim))
            self._feedback_key = key
        return self._feedback_index

    def _note_retrieved(self, document_ids: list[str]) -> None:
        """Remember when a manual was last useful (for `kb stale`), at most hourly per manual.

        Skipped (tried again next time) while another process writes: a search never
        waits for a long ingest transaction.
        """
        now = time.time()
        due = [d for d in dict.fromkeys(document_ids)
               if now - self._retrieved.get(d, 0) > NOTE_RETRIEVED_EVERY]
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        if due and records.mark_retrieved(self.indexes.store, due, stamp):
            self._retrieved.update(dict.fromkeys(due, now))
