"""The knowledge base, one object per directory: a facade whose methods take the locks
they need and delegate to kb/write/, kb/search/, kb/storage/ or kb/index/."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

import numpy as np

from ingest.limits import Limits
from ingest.masking import MaskPolicy
from ingest.records import Case
from kb.embeddings import Embedder, load_embedder
from kb.index.base import LexicalBackend
from kb.index.faiss import VectorIndex
from kb.index.indexes import open_indexes
from kb.reports import DocumentReport, IngestReport, Progress, Stats
from kb.search import feedback, status
from kb.search.calibration import Calibration
from kb.search.fusion import DEFAULT_FUSION
from kb.search.results import SearchResult
from kb.search.searcher import Searcher
from kb.storage import audit, health, records
from kb.storage.cases import Store
from kb.storage.documents import DocumentInfo
from kb.storage.filters import Filters
from kb.storage.layout import Layout
from kb.storage.locking import serialised, writing
from kb.write import documents, ingest, lifecycle, setup
from kb.write.fanout import Fanout
from kb.write.reindex import reindex


class KnowledgeBase:
    """Cases in SQLite (truth), FTS5 (lexical) and FAISS (dense, derived)."""

    def __init__(self, layout: Layout, store: Store, embedder: Embedder) -> None:
        self.layout, self.store, self.embedder = layout, store, embedder
        self.docs, self.writer, self.indexes = open_indexes(layout, store, embedder.dim)
        self.searcher = Searcher(self.indexes, embedder)
        self._lock = threading.RLock()  # see kb/storage/locking.py: serialised
        with health.translated(layout.root):  # a damaged file: its message, not a traceback
            self.indexes.sync()

    @classmethod
    def open(cls, directory: str | os.PathLike[str] | None = None, model: str | None = None,
             create: bool = True) -> KnowledgeBase:
        """Open (or create) the base; `model` None means the model the base was built with."""
        return cls(*setup.open_store(directory, model, create))

    def close(self) -> None:
        self.indexes.close()
        self.store.close()

    def separate_writer(self) -> KnowledgeBase:  # for a long write: searches here never wait for it
        return KnowledgeBase(*setup.second_handle(self.layout, self.embedder.name))

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def index(self) -> VectorIndex:
        return self.indexes.case_vectors  # the cases' FAISS index as of the last sync

    @serialised
    def refresh(self) -> bool:
        """Pick up changes another process committed; True if anything changed."""
        return self.indexes.refresh()

    # ---- cases ----
    @writing
    def ingest_ledger(self, path: str | os.PathLike[str], overrides: dict[str, str] | None = None,
                      skip_invalid: bool = False, progress: Progress | None = None,
                      encoding: str | None = None, masking: MaskPolicy | None = None,
                      limits: Limits | None = None, run_ids: dict[str, str] | None = None,
                      fanout: Fanout | None = None) -> IngestReport:
        """Read, validate, mask and store a ledger: all rows or nothing, unless `skip_invalid`."""
        return ingest.ingest_ledger(self.indexes, self.embedder, path, overrides, skip_invalid,
                                    progress, encoding, masking, limits, run_ids, fanout)

    @writing
    def ingest_cases(self, cases: Iterable[Case], progress: Progress | None = None,
                     masking: MaskPolicy | None = None, detail: str = "") -> IngestReport:
        """Upsert cases in one transaction (masked unless `masking` says otherwise); `detail`: audited."""
        return ingest.ingest_cases(self.indexes, self.embedder, cases, progress,
                                   masking or MaskPolicy(), detail=detail)

    @serialised
    def compare(self, cases: list[Case]) -> dict[str, int]:
        """What an ingest of `cases` would do, without writing: new, updated, unchanged."""
        return ingest.compare(self.indexes, cases)

    @writing
    def retire_cases(self, ids: list[str]) -> list[str]:
        """Take cases out of search and clusters but keep them (restorable)."""
        return lifecycle.retire(self.indexes, ids)

    @writing
    def restore_cases(self, ids: list[str]) -> list[str]:
        """Bring retired cases back into search; returns those restored."""
        return lifecycle.restore(self.indexes, self.embedder, ids)

    @writing
    def delete_cases(self, ids: list[str]) -> int:
        """Remove cases from SQLite, FTS5 and FAISS alike; returns how many existed."""
        return lifecycle.delete(self.indexes, ids)

    @serialised
    def retired_cases(self) -> list[tuple[Case, str]]:
        return lifecycle.retired_cases(self.indexes)

    @serialised
    def retired_at(self, case_id: str) -> str | None:
        return self.store.retired([case_id]).get(case_id)

    @serialised
    def all_cases(self) -> list[Case]:
        return [c for batch in self.store.iter_cases() for c in batch]  # active, by id (export)

    @serialised
    def get_case(self, case_id: str) -> Case | None:
        return self.store.get_cases([case_id]).get(case_id)

    @serialised
    def save_draft(self, token: str, values: dict[str, object], *, owner: str) -> bool:
        """Form autosave, masked, bound to `owner` (the browser); False while an ingest writes."""
        return records.save_draft(self.store, token, values, owner)

    @serialised
    def load_draft(self, token: str, *, owner: str) -> dict[str, object] | None:
        return records.load_draft(self.store.db, token, owner)  # None once KB_DRAFT_DAYS old

    @serialised
    def delete_draft(self, token: str, *, owner: str) -> None:
        records.delete_draft(self.store.db, token, owner)

    # ---- models and fusion ----
    @writing
    def calibrate(self, progress: Progress | None = None) -> Calibration | None:
        """Choose the hybrid fusion's dense prior from the base's own labels."""
        return ingest.recalibrate(self.indexes, self.embedder, progress)

    def stored_model(self) -> str:
        """The model the base on disk was built with (another process may have re-embedded)."""
        return self.store.manifest().model or self.embedder.name

    @writing
    def reindex(self, model: str | None = None, progress: Progress | None = None) -> None:
        """Re-embed every case and manual passage (optionally with another model), re-tokenise."""
        embedder = load_embedder(model) if model else self.embedder
        reindex(self.indexes, embedder, progress)
        self.embedder = embedder
        self.searcher = Searcher(self.indexes, embedder)
        self.calibrate(progress)

    # ---- manuals ----
    @writing
    def ingest_document(self, path: str | os.PathLike[str] | None = None, data: bytes | None = None,
                        name: str | None = None, progress: Progress | None = None,
                        ocr: bool | None = None) -> DocumentReport:
        """Add or replace a manual by file name; an identical file is skipped (and said so)."""
        return documents.ingest_document(self.indexes, self.embedder, path, data, name, progress, ocr)

    @writing
    def delete_document(self, name: str) -> bool:
        """Remove a manual from SQLite, FTS5 and FAISS alike; False if there was none."""
        return documents.delete_document(self.indexes, name)

    @serialised
    def documents(self) -> list[DocumentInfo]:
        return self.docs.list()

    @serialised
    def document_content(self, name: str) -> bytes | None:
        return self.docs.content(name)

    @serialised
    def page_text(self, name: str, page: int) -> str:
        return self.docs.page_text(name, page)

    @serialised
    def stale_documents(self, unretrieved_days: int = 90,
                        unchanged_months: int = 12) -> list[tuple[DocumentInfo, str]]:
        """Review candidates (断捨離): not retrieved in N days, or not updated in M months."""
        return self.docs.stale(unretrieved_days, unchanged_months)

    # ---- reading ----
    @serialised
    def search(self, query: str, top_k: int = 10, mode: str = "hybrid",
               filters: Filters | None = None, fusion: str = DEFAULT_FUSION,
               use_feedback: bool = True, passages: int = 5) -> SearchResult:
        """Most similar past cases for a free-text complaint, and the manual passages that apply."""
        return self.searcher.search(query, top_k, mode, filters, fusion, use_feedback, passages)

    @serialised
    def search_many(self, queries: list[str], top_k: int = 10, mode: str = "hybrid",
                    filters: Filters | None = None, fusion: str = DEFAULT_FUSION,
                    progress: Progress | None = None, use_feedback: bool = True) -> list[SearchResult]:
        """Many queries, embedded in batches (the batch CLI and `kb eval`)."""
        return self.searcher.search_many(queries, top_k, mode, filters, fusion, progress, use_feedback)

    @serialised
    def candidate_pools(self, queries: list[str]) -> list[tuple[list[str], np.ndarray, np.ndarray]]:
        """Per query: hybrid candidates with both scores, before fusion (bench/fusion_study.py)."""
        return self.searcher.candidate_pools(queries)

    @serialised
    def lexical_backend(self) -> LexicalBackend:
        return self.indexes.lexical()  # FTS5, or BM25 in memory on a large base (bench timing)

    @serialised
    def record_feedback(self, query: str, case_id: str, helpful: bool, rank: int | None = None,
                        mode: str = "hybrid") -> None:
        """Store a staff judgment of one result with its query (masked first)."""
        self.searcher.record_feedback(query, case_id, helpful, rank, mode)

    @serialised
    def feedback_judgments(self) -> tuple[list[tuple[str, str]], dict[str, dict[str, float]]]:
        """Stored feedback as evaluation queries and qrels (`kb eval --from-feedback`)."""
        return feedback.judgments(records.all_feedback(self.store.db))

    @serialised
    def audit_events(self, limit: int = 100, action: str | None = None,
                     case_id: str | None = None) -> list[audit.AuditEvent]:
        """Recorded writes, newest first (`kb audit`, admin page); `case_id`: its history."""
        return audit.events(self.store.db, limit, action, case_id)

    @serialised
    def audit_failed_sign_in(self, client: str, name: str) -> bool:  # never waits for an ingest
        return audit.record_now(self.store, "sign_in_failed", client, actor=name)

    @serialised
    def stats(self) -> Stats:
        return status.stats(self.layout, self.store, self.docs, self.searcher)

    @serialised
    def facets(self) -> dict[str, list[tuple[str, int]]]:
        """Values present for each filterable field, most common first (for filter widgets)."""
        return {name: self.store.distinct(name) for name in ("category", "product", "channel")}

    @serialised
    def date_range(self) -> tuple[str | None, str | None]:
        return self.store.date_range()
