"""The knowledge base: one directory, one object; CLI, app, tests and benchmarks use it."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from ingest.documents import read_document
from ingest.ledger import read_ledger, write_rejects
from ingest.limits import Limits
from ingest.masking import MaskPolicy, mask_case, mask_text
from ingest.records import Case
from kb.embeddings import DEFAULT_MODEL, Embedder, load_embedder
from kb.errors import KnowledgeBaseError, ModelMismatchError
from kb.index import analyser
from kb.index.faiss import DerivedIndex, VectorIndex
from kb.reports import DocumentReport, IngestReport, Progress, Stats
from kb.search import feedback
from kb.search.calibration import Calibration, calibrate
from kb.search.cases import search_cases
from kb.search.feedback import FeedbackIndex
from kb.search.filters import Filters
from kb.search.fusion import DEFAULT_DENSE_PRIOR, DEFAULT_FUSION
from kb.search.passages import search_passages
from kb.search.results import SearchResult
from kb.settings import Settings, resolve_index_dir
from kb.storage import audit
from kb.storage.database import Store
from kb.storage.documents import DocumentInfo, DocumentStore
from kb.storage.locking import WriterLock
from kb.write.cases import case_chunks, index_cases, write_cases  # noqa: F401 - case_chunks re-exported

CASES_KEY, DOCS_KEY = "vectors_version", "doc_vectors_version"  # manifest keys of the FAISS files
EMBED_BATCH = 256

T = TypeVar("T")


@dataclass(frozen=True)
class Layout:
    """Where a knowledge base keeps its files."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "kb.sqlite3"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors.faiss"

    @property
    def doc_vectors(self) -> Path:
        return self.root / "documents.faiss"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    """Serialise calls: the app serves many sessions from threads of one process."""

    @functools.wraps(method)
    def wrapper(self: KnowledgeBase, *args: object, **kwargs: object) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


def _writing(method: Callable[..., T]) -> Callable[..., T]:
    """Hold the writer lock (kb/storage/locking.py) for the whole write: other processes wait."""

    @functools.wraps(method)
    def wrapper(self: KnowledgeBase, *args: object, **kwargs: object) -> T:
        with self._lock, self.writer():
            return method(self, *args, **kwargs)

    return wrapper


class KnowledgeBase:
    """Cases in SQLite (truth), FTS5 (lexical) and FAISS (dense, derived)."""

    def __init__(self, layout: Layout, store: Store, embedder: Embedder) -> None:
        self.layout = layout
        self.store = store
        self.embedder = embedder
        self.docs = DocumentStore(store.db)
        self.writer = WriterLock(layout.root)
        self.cases_index = DerivedIndex(layout.vectors, embedder.dim, store.iter_vectors,
                                        self.writer)
        self.doc_index = DerivedIndex(layout.doc_vectors, embedder.dim, self.docs.iter_vectors,
                                      self.writer)
        self._index_version = -1
        self._retrieved: dict[str, float] = {}
        # One SQLite connection and FAISS indexes, shared by the app's session threads.
        self._lock = threading.RLock()
        self._sync_index()

    @property
    def index(self) -> VectorIndex:
        """The cases' FAISS index (as of the last sync)."""
        return self.cases_index.index

    # ---- opening ----
    @classmethod
    def open(cls, directory: str | os.PathLike[str] | None = None, model: str | None = None,
             create: bool = True) -> KnowledgeBase:
        """Open (or create) the base; `model` None means the model the base was built with."""
        layout = Layout(resolve_index_dir(directory))
        if not layout.database.exists() and not create:
            raise KnowledgeBaseError(f"no knowledge base at {layout.root} (run `kb ingest` first)")
        layout.root.mkdir(parents=True, exist_ok=True)
        store = Store(layout.database)
        try:
            manifest = store.manifest()
            stored = manifest.get("model")
            wanted = model or Settings.from_env().embedding_model or stored or DEFAULT_MODEL
            if stored and wanted != stored:
                raise ModelMismatchError(
                    f"the knowledge base at {layout.root} was built with embedding model "
                    f"'{stored}' (dim {manifest.get('dim')}), not '{wanted}'. Run "
                    f"`kb --index {layout.root} reindex --model {wanted}` to re-embed it with "
                    f"'{wanted}', or drop --model / KB_EMBEDDING_MODEL to use '{stored}'."
                )
            if manifest.get("analyser") not in (None, analyser.ANALYSER_NAME):
                raise KnowledgeBaseError(
                    f"the lexical index was built with analyser '{manifest['analyser']}'; run "
                    f"`kb --index {layout.root} reindex` to rebuild it with this version."
                )
            embedder = load_embedder(wanted)
            if not stored:
                store.write_manifest(model=embedder.name, dim=embedder.dim,
                                   analyser=analyser.ANALYSER_NAME, created_at=_now())
            return cls(layout, store, embedder)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the FAISS copy of the vectors ----
    def _sync_index(self) -> None:
        """Make the in-memory FAISS indexes reflect SQLite: load their files, or rebuild them."""
        version = self.store.state_version()
        if version == self._index_version:
            return
        self.cases_index.sync(self.store.index_version(CASES_KEY))
        self.doc_index.sync(self.store.index_version(DOCS_KEY))
        self._index_version = version

    @_locked
    def refresh(self) -> bool:
        """Pick up changes another process committed; True if anything changed."""
        before = self._index_version
        self._sync_index()
        return before != self._index_version

    # ---- writing ----
    @_writing
    def ingest_ledger(self, path: str | os.PathLike[str], overrides: dict[str, str] | None = None,
                      skip_invalid: bool = False, progress: Progress | None = None,
                      encoding: str | None = None, masking: MaskPolicy | None = None,
                      limits: Limits | None = None) -> IngestReport:
        """Read, validate and store a ledger: all rows or nothing, unless `skip_invalid`.

        Personal data is masked unless `masking` says otherwise (ingest/masking.py).
        """
        read = read_ledger(path, overrides, encoding=encoding, limits=limits)
        if not skip_invalid:
            read.raise_for_errors()
        rejected = len({e.location for e in read.errors})
        report = self._ingest_cases(read.cases, progress, (masking or MaskPolicy()).for_mapping(
            read.mapping), "ingest_ledger", read.path, rejected, limits)
        report.source, report.ledger = read.path, read
        report.rejected = rejected
        if read.errors:
            report.rejects_file = str(write_rejects(read))
        return report

    @_writing
    def ingest_cases(self, cases: Iterable[Case], progress: Progress | None = None,
                     masking: MaskPolicy | None = None) -> IngestReport:
        """Upsert cases in one transaction, in bounded batches (kb/write/cases.py); only text
        that changed is embedded again. Personal data is masked first unless `masking` says
        otherwise. A retired case that comes in again is updated but stays retired."""
        return self._ingest_cases(cases, progress, masking or MaskPolicy(), "ingest_cases", "")

    def _ingest_cases(self, cases: Iterable[Case], progress: Progress | None, masking: MaskPolicy,
                      action: str, target: str, rejected: int = 0,
                      limits: Limits | None = None) -> IngestReport:
        report = IngestReport()
        prepared = self._prepared(cases, masking, report, limits or Settings.from_env().limits())
        before = self.store.index_version(CASES_KEY)
        with self.store.transaction():
            self.store.mark_index_changed(CASES_KEY)
            writes = write_cases(self.store, self.embedder, prepared, _now(), progress,
                                 total=len(cases) if isinstance(cases, list) else 0)
            report.new, report.updated = writes.new, writes.updated
            report.unchanged, report.embedded = writes.unchanged, writes.embedded
            audit.record(self.store.db, action, target or writes.changed_names(),
                         {"new": report.new, "updated": report.updated,
                          "unchanged": report.unchanged, "rejected": rejected,
                          **{f"masked_{k}": n for k, n in report.masked.items()}})
        if writes.rebuild_index:
            self.cases_index.version = -1
        self._after_write(self.cases_index, before, CASES_KEY, writes.removed, writes.added_ids,
                          writes.added_vectors)
        if writes.changed:
            self._maybe_calibrate(progress)
        return report

    @_locked
    def compare(self, cases: list[Case]) -> dict[str, int]:
        """What an ingest of `cases` would do, without writing: new, updated, unchanged."""
        known = self.store.fingerprints([c.id for c in cases])
        unchanged = sum(known.get(c.id) == c.fingerprint() for c in cases)
        new = sum(c.id not in known for c in cases)
        return {"new": new, "updated": len(cases) - new - unchanged, "unchanged": unchanged}

    @_writing
    def retire_cases(self, ids: list[str]) -> list[str]:
        """Take cases out of search and clusters but keep them (restorable); returns those retired.

        Only their chunks leave SQLite, FTS5 and FAISS; nothing else is re-indexed.
        """
        before = self.store.index_version(CASES_KEY)
        with self.store.transaction():
            self.store.mark_index_changed(CASES_KEY)
            retired = self.store.set_retired(list(dict.fromkeys(ids)), _now())
            removed = self.store.delete_chunks_of(retired)
            audit.record(self.store.db, "retire_cases", ", ".join(retired),
                         {"requested": len(ids), "retired": len(retired)})
        self._after_write(self.cases_index, before, CASES_KEY, removed, [], [])
        return retired

    @_writing
    def restore_cases(self, ids: list[str]) -> list[str]:
        """Bring retired cases back into search; returns those restored."""
        before = self.store.index_version(CASES_KEY)
        with self.store.transaction():
            self.store.mark_index_changed(CASES_KEY)
            restored = self.store.set_retired(list(dict.fromkeys(ids)), None)
            added, vectors = index_cases(self.store, self.embedder,
                                         list(self.store.get_cases(restored).values()))
            audit.record(self.store.db, "restore_cases", ", ".join(restored),
                         {"requested": len(ids), "restored": len(restored)})
        self._after_write(self.cases_index, before, CASES_KEY, [], added, vectors)
        return restored

    @_locked
    def retired_cases(self) -> list[tuple[Case, str]]:
        """Retired cases with when they were retired, most recent first (the manage page)."""
        found = [c for batch in self.store.iter_cases(retired=True) for c in batch]
        when = self.store.retired([c.id for c in found])
        return sorted(((c, when[c.id]) for c in found), key=lambda x: x[1], reverse=True)

    @_locked
    def retired_at(self, case_id: str) -> str | None:
        return self.store.retired([case_id]).get(case_id)

    @_locked
    def all_cases(self) -> list[Case]:
        """Every active case in id order (export)."""
        return [c for batch in self.store.iter_cases() for c in batch]

    # ---- form drafts (the record page keeps one per browser tab, keyed in its URL) ----
    @_locked
    def save_draft(self, token: str, values: dict[str, object]) -> bool:
        """Autosave; skipped (False, the next change saves again) while an ingest holds the
        database, so typing never waits for a long import."""
        return self.store.try_write(
            "INSERT OR REPLACE INTO drafts VALUES (?, ?, ?)",
            (token, json.dumps(values, ensure_ascii=False, default=str), _now()))

    @_locked
    def load_draft(self, token: str) -> dict[str, object] | None:
        row = self.store.db.execute("SELECT data FROM drafts WHERE id = ?", (token,)).fetchone()
        return json.loads(row[0]) if row else None

    @_locked
    def delete_draft(self, token: str) -> None:
        self.store.db.execute("DELETE FROM drafts WHERE id = ?", (token,))

    @staticmethod
    def _prepared(cases: Iterable[Case], masking: MaskPolicy, report: IngestReport,
                  limits: Limits) -> Iterator[Case]:
        """Cases within the field limit, masked; the masked form is what is stored and embedded.

        A generator, so the batched write streams; a limit error inside it rolls the write back.
        """
        for case in cases:
            limits.check_case(case)
            masked, counts = mask_case(case, masking)
            for kind, n in counts.items():
                report.masked[kind] = report.masked.get(kind, 0) + n
            yield masked

    def _maybe_calibrate(self, progress: Progress | None) -> None:
        """Re-tune the fusion weight when the base has grown or shrunk by a tenth or more."""
        manifest = self.store.manifest()
        last = json.loads(manifest.get("fusion_calibration") or "null")
        cases = self.store.counts()["cases"]
        if last and abs(cases - last["cases_total"]) < 0.1 * max(last["cases_total"], 1):
            return
        self.calibrate(progress)

    @_writing
    def calibrate(self, progress: Progress | None = None) -> Calibration | None:
        """Choose the hybrid fusion's dense prior from the base's own labels (kb/search/calibration.py)."""
        self._sync_index()
        result = calibrate(self.store, self.index, self.embedder, progress=progress)
        record = {"cases_total": self.store.counts()["cases"], "at": _now(),
                  **(json.loads(result.to_json()) if result else {"dense_prior": None})}
        prior = result.dense_prior if result else DEFAULT_DENSE_PRIOR
        self.store.write_manifest(
            lambda db: audit.record(db, "calibrate", "", {"queries": result.queries if result else 0},
                                    f"dense prior {prior}"),
            fusion_dense_prior=prior, fusion_calibration=json.dumps(record, ensure_ascii=False))
        return result

    def dense_prior(self) -> float:
        """The fusion weight searches use: calibrated for this base, else the default."""
        value = self.store.manifest().get("fusion_dense_prior")
        return float(value) if value else DEFAULT_DENSE_PRIOR

    def _after_write(self, index: DerivedIndex, before: int, key: str, removed: list[int],
                     ids: list[int], vectors: list[np.ndarray]) -> None:
        """Bring one FAISS index up to the write just committed, and note the new state."""
        index.apply(before, self.store.index_version(key), removed, ids, vectors)
        self._sync_index()  # a no-op for `index`; picks up another writer's change to the other

    @_writing
    def delete_cases(self, ids: list[str]) -> int:
        """Remove cases from SQLite, FTS5 and FAISS alike; returns how many existed."""
        before = self.store.index_version(CASES_KEY)
        with self.store.transaction():
            self.store.mark_index_changed(CASES_KEY)
            deleted, removed = self.store.delete_cases(ids)
            audit.record(self.store.db, "delete_cases", ", ".join(ids),
                         {"requested": len(ids), "deleted": deleted})
        self._after_write(self.cases_index, before, CASES_KEY, removed, [], [])
        return deleted

    @_writing
    def reindex(self, model: str | None = None, progress: Progress | None = None) -> None:
        """Re-embed every case and manual passage (optionally with another model), re-tokenise."""
        embedder = load_embedder(model) if model else self.embedder
        rows = [r for batch in self.store.iter_chunk_texts() for r in batch]
        complaint = [(cid, text) for cid, part, text in rows if part == "complaint"]
        passages = self.store.db.execute(
            "SELECT id, text, heading_path FROM doc_chunks ORDER BY id").fetchall()
        texts = [t for _, t in complaint] + [t for _, t, _ in passages]
        vectors: list[np.ndarray] = []
        for start in range(0, len(texts), EMBED_BATCH):
            vectors.extend(embedder.encode_documents(texts[start : start + EMBED_BATCH]))
            if progress:
                progress(min(start + EMBED_BATCH, len(texts)), len(texts), "embed")
        blobs = [np.asarray(v, np.float32).tobytes() for v in vectors]
        with self.store.transaction() as db:
            self.store.mark_index_changed(CASES_KEY)
            self.store.mark_index_changed(DOCS_KEY)
            db.executemany("UPDATE chunks SET vector = ? WHERE id = ?",
                           [(b, cid) for (cid, _), b in zip(complaint, blobs, strict=False)])
            db.executemany("UPDATE doc_chunks SET vector = ? WHERE id = ?",
                           [(b, cid) for (cid, _, _), b in
                            zip(passages, blobs[len(complaint):], strict=True)])
            db.execute("DELETE FROM chunks_fts")
            for cid, part, text in rows:
                tokens = analyser.fts_document(text)
                primary, secondary = (tokens, "") if part == "complaint" else ("", tokens)
                db.execute("INSERT INTO chunks_fts (rowid, primary_text, secondary_text) "
                           "VALUES (?, ?, ?)", (cid, primary, secondary))
            db.execute("DELETE FROM doc_chunks_fts")
            for cid, text, heading_path in passages:
                db.execute("INSERT INTO doc_chunks_fts (rowid, heading, body) VALUES (?, ?, ?)",
                           (cid, analyser.fts_document(" ".join(json.loads(heading_path))),
                            analyser.fts_document(text)))
            self.store.set_manifest(model=embedder.name, dim=embedder.dim,
                                    analyser=analyser.ANALYSER_NAME)
            audit.record(db, "reindex", embedder.name, {"chunks": len(rows),
                                                        "passages": len(passages)})
        self.embedder = embedder
        self.cases_index = DerivedIndex(self.layout.vectors, embedder.dim, self.store.iter_vectors,
                                        self.writer)
        self.doc_index = DerivedIndex(self.layout.doc_vectors, embedder.dim,
                                      self.docs.iter_vectors, self.writer)
        self._index_version = -1
        self._sync_index()
        self.calibrate(progress)

    # ---- manuals ----
    @_writing
    def ingest_document(self, path: str | os.PathLike[str] | None = None, data: bytes | None = None,
                        name: str | None = None, progress: Progress | None = None,
                        ocr: bool | None = None) -> DocumentReport:
        """Add or replace a manual by file name; an identical file is skipped (and said so)."""
        source = Path(path) if path is not None else Path(name or "document")
        if data is not None or source.is_file():
            Settings.from_env().limits().check_size(name or source.name,
                                         len(data) if data is not None else source.stat().st_size)
        doc = read_document(source, data=data, name=name, ocr=ocr)
        content = data if data is not None else source.read_bytes()
        report = DocumentReport(doc.name, "unchanged", doc.title, doc.pages, len(doc.passages),
                                list(doc.warnings))
        existing = self.docs.sha256_of(doc.name)
        if existing == doc.sha256:
            return report
        report.status = "replaced" if existing else "new"
        texts = [p.text for p in doc.passages]
        by_hash = {_hash(t): t for t in texts}
        found = {h: np.frombuffer(b, dtype=np.float32)
                 for h, b in self.docs.vectors_by_hash(list(by_hash)).items()}
        todo = [(h, t) for h, t in by_hash.items() if h not in found]
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            found.update(zip([h for h, _ in batch],
                             self.embedder.encode_documents([t for _, t in batch]), strict=True))
            if progress:
                progress(min(start + EMBED_BATCH, len(todo)), len(todo), "embed")
        info = {"id": doc.name, "title": doc.title, "file_type": doc.file_type,
                "sha256": doc.sha256, "pages": doc.pages, "size": len(content),
                "warnings": json.dumps(doc.warnings, ensure_ascii=False),
                "ocr_pages": json.dumps(doc.ocr_pages),
                "needs_ocr_pages": json.dumps(doc.needs_ocr_pages)}
        before = self.store.index_version(DOCS_KEY)
        ids: list[int] = []
        vectors: list[np.ndarray] = []
        with self.store.transaction():
            self.store.mark_index_changed(DOCS_KEY)
            removed = self.docs.delete_chunks(doc.name)
            self.docs.upsert(info, content, _now())
            for order, passage in enumerate(doc.passages):
                vector = found[_hash(passage.text)]
                ids.append(self.docs.insert_chunk(
                    doc.name, order, passage.text, passage.page_start, passage.page_end,
                    passage.heading_path, _hash(passage.text), vector,
                    analyser.fts_document(" ".join(passage.heading_path)),
                    analyser.fts_document(passage.text)))
                vectors.append(vector)
            audit.record(self.store.db, "ingest_document", doc.name,
                         {"passages": len(doc.passages), "pages": doc.pages or 0}, report.status)
        self._after_write(self.doc_index, before, DOCS_KEY, removed, ids, vectors)
        return report

    @_writing
    def delete_document(self, name: str) -> bool:
        """Remove a manual from SQLite, FTS5 and FAISS alike; False if there was none."""
        before = self.store.index_version(DOCS_KEY)
        with self.store.transaction():
            self.store.mark_index_changed(DOCS_KEY)
            existed, removed = self.docs.delete(name)
            audit.record(self.store.db, "delete_document", name, {"deleted": int(existed)})
        self._after_write(self.doc_index, before, DOCS_KEY, removed, [], [])
        return existed

    @_locked
    def documents(self) -> list[DocumentInfo]:
        return self.docs.list()

    @_locked
    def document_content(self, name: str) -> bytes | None:
        return self.docs.content(name)

    @_locked
    def page_text(self, name: str, page: int) -> str:
        return self.docs.page_text(name, page)

    @_locked
    def stale_documents(self, unretrieved_days: int = 90,
                        unchanged_months: int = 12) -> list[tuple[DocumentInfo, str]]:
        """Review candidates (断捨離): not retrieved by any search in N days, or not updated in
        M months; the reason is 'unretrieved', 'unchanged' or both."""
        now = dt.datetime.now(dt.UTC)
        unretrieved = (now - dt.timedelta(days=unretrieved_days)).isoformat(timespec="seconds")
        unchanged = (now - dt.timedelta(days=30 * unchanged_months)).isoformat(timespec="seconds")
        return self.docs.stale(unretrieved, unchanged)

    # ---- reading ----
    @_locked
    def search(self, query: str, top_k: int = 10, mode: str = "hybrid",
               filters: Filters | None = None, fusion: str = DEFAULT_FUSION,
               use_feedback: bool = True, passages: int = 5) -> SearchResult:
        """Most similar past cases for a free-text complaint (kb/search/cases.py), and the manual
        passages that apply (kb/search/passages.py)."""
        started = time.perf_counter()
        qvec = None
        if mode != "lexical" and query.strip():
            qvec = self.embedder.encode_queries([query])[0]
        # One snapshot: SQLite, FTS5 and the FAISS copies as of one committed state.
        with self.store.snapshot():
            self._sync_index()
            result = search_cases(self.store, self.index, self.embedder, query, top_k, mode,
                                  filters, fusion, query_vector=qvec,
                                  dense_prior=self.dense_prior(),
                                  feedback=self._feedback() if use_feedback else None)
            if passages and self.docs.count():
                result.passages = search_passages(self.docs, self.doc_index.index, query, qvec,
                                                  passages, mode)
            result.state_version = self.store.state_version()
        self._note_retrieved([p.document_id for p in result.passages])
        # What staff waited for: query embedding, cases and manual passages together.
        result.took_ms = (time.perf_counter() - started) * 1000
        return result

    def _note_retrieved(self, document_ids: list[str]) -> None:
        """Remember when a manual was last useful (for `kb stale`), at most hourly per manual."""
        now = time.time()
        due = [d for d in dict.fromkeys(document_ids) if now - self._retrieved.get(d, 0) > 3600]
        # Skipped (tried again next time) while another process writes: a search never
        # waits for a long ingest transaction.
        marks = ", ".join("?" * len(due))
        if due and self.store.try_write(
                f"UPDATE documents SET last_retrieved_at = ? WHERE id IN ({marks})", [_now(), *due]):
            self._retrieved.update(dict.fromkeys(due, now))

    @_locked
    def search_many(self, queries: list[str], top_k: int = 10, mode: str = "hybrid",
                    filters: Filters | None = None, fusion: str = DEFAULT_FUSION,
                    progress: Progress | None = None,
                    use_feedback: bool = True) -> list[SearchResult]:
        """Many queries, embedded in batches (the batch CLI and `kb eval`)."""
        vectors: np.ndarray | list[None] = [None] * len(queries)
        if mode != "lexical" and queries:
            vectors = np.vstack([self.embedder.encode_queries(queries[s : s + EMBED_BATCH])
                                 for s in range(0, len(queries), EMBED_BATCH)])
        with self.store.snapshot():  # every query sees the same committed state
            self._sync_index()
            return self._search_each(queries, vectors, top_k, mode, filters, fusion, progress,
                                     use_feedback)

    def _search_each(self, queries: list[str], vectors: np.ndarray | list[None], top_k: int,
                     mode: str, filters: Filters | None, fusion: str, progress: Progress | None,
                     use_feedback: bool) -> list[SearchResult]:
        results = []
        prior = self.dense_prior()
        feedback = self._feedback() if use_feedback else None
        for n, (query, vector) in enumerate(zip(queries, vectors, strict=True), start=1):
            results.append(search_cases(self.store, self.index, self.embedder, query, top_k,
                                        mode, filters, fusion, query_vector=vector,
                                        dense_prior=prior, feedback=feedback))
            if progress and (n % 50 == 0 or n == len(queries)):
                progress(n, len(queries), "search")
        return results

    def _feedback(self) -> FeedbackIndex | None:
        """Feedback vectors, reloaded only when feedback was added (by any process)."""
        key = self.store.db.execute("SELECT count(*), max(id) FROM feedback").fetchone()
        if key[0] == 0:
            return None
        if getattr(self, "_feedback_key", None) != key:
            self._feedback_index = FeedbackIndex(self.store.db, self.embedder.dim)
            self._feedback_key = key
        return self._feedback_index

    @_locked
    def record_feedback(self, query: str, case_id: str, helpful: bool, rank: int | None = None,
                        mode: str = "hybrid") -> None:
        """Store a staff judgment of one result (helpful / not helpful) with its query
        (masked: staff may have typed the customer's phone number)."""
        query = mask_text(query)[0]
        vector = self.embedder.encode_queries([query])[0]
        feedback.record(self.store.db, query, vector, case_id, helpful, rank, mode)

    @_locked
    def feedback_judgments(self) -> tuple[list[tuple[str, str]], dict[str, dict[str, float]]]:
        """Stored feedback as evaluation queries and qrels (`kb eval --from-feedback`)."""
        return feedback.judgments(self.store.db)

    @_locked
    def audit_events(self, limit: int = 100, action: str | None = None) -> list[audit.AuditEvent]:
        """Recorded writes, newest first (`kb audit`, the admin page)."""
        return audit.events(self.store.db, limit, action)

    @_locked
    def get_case(self, case_id: str) -> Case | None:
        return self.store.get_cases([case_id]).get(case_id)

    @_locked
    def stats(self) -> Stats:
        manifest = self.store.manifest()
        counts = self.store.counts()
        return Stats(**counts, documents=self.docs.count(), model=self.embedder.name, dim=self.embedder.dim,
                     analyser=manifest.get("analyser", ""),
                     schema_version=int(manifest.get("schema_version", 0)),
                     state_version=self.store.state_version(), directory=str(self.layout.root),
                     fusion_dense_prior=self.dense_prior(),
                     fusion_calibration=manifest.get("fusion_calibration", ""))

    @_locked
    def facets(self) -> dict[str, list[tuple[str, int]]]:
        """Values present for each filterable field, most common first (for filter widgets)."""
        return {name: self.store.distinct(name) for name in ("category", "product", "channel")}

    @_locked
    def date_range(self) -> tuple[str | None, str | None]:
        return self.store.date_range()
