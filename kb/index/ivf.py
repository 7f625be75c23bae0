"""When and how the cases' vectors get an approximate (IVF) FAISS index instead of exact search.

IVF rather than HNSW: FAISS's HNSW cannot remove vectors, and a knowledge base deletes and
updates cases; IVF removes by id, filters with an ID selector (SearchParametersIVF), and
trains in seconds. Exact search stays below the threshold, where it is fast enough and
costs no training. The threshold and the probe count are measured (bench/ann_threshold.py,
BENCHMARKS.md "Approximate index").
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import faiss
import numpy as np

from kb.settings import Settings

# Vectors at which the index switches to IVF (measured: BENCHMARKS.md). Below half of it
# an IVF index goes back to exact search, so a base near the line does not flip-flop.
# KB_APPROX_THRESHOLD (kb/settings.py) sets it; tests and benchmarks may set this override.
APPROX_THRESHOLD: int | None = None
# Share of the lists probed per query: recall@10 0.96-0.97 against exact search on real
# embeddings at 10k-100k vectors (0.06 gave 0.94-0.96: too close to 0.95).
PROBE_SHARE = 0.1
MIN_PROBES = 16
# FAISS k-means wants at least 39 training points per list; 64 gives better centroids.
TRAIN_PER_LIST = 64
MAX_TRAIN = 131_072


def list_count(n: int) -> int:
    """Inverted lists for `n` vectors: ~2*sqrt(n), as few as training points allow."""
    return max(1, min(int(2 * math.sqrt(n)), n // 39))


def probes(nlist: int) -> int:
    return min(nlist, max(MIN_PROBES, math.ceil(PROBE_SHARE * nlist)))


def threshold() -> int:
    """Vectors at which search switches to IVF: the override, else the setting."""
    return APPROX_THRESHOLD or Settings.from_env().approx_threshold


def wanted_kind(n: int, current: str) -> str:
    """'ivf' or 'flat' for a base of `n` vectors, with hysteresis around the threshold."""
    limit = threshold()
    if n >= limit:
        return "ivf"
    if n < limit // 2:
        return "flat"
    return current


def needs_retraining(index: faiss.IndexIVF) -> bool:
    """True when the base outgrew its lists (4x the vectors they were sized for)."""
    return list_count(int(index.ntotal)) > 2 * index.nlist


@contextmanager
def all_cores() -> Iterator[None]:
    """Training and bulk adds are batch jobs: use every core, then back to one per query."""
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)


def train_ivf(dim: int, n: int, sample: np.ndarray) -> faiss.IndexIVFFlat:
    """An empty, trained IVF index sized for `n` vectors (ids kept, removable)."""
    nlist = list_count(n)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    with all_cores():
        index.train(np.ascontiguousarray(sample[: TRAIN_PER_LIST * nlist], dtype=np.float32))
    # A hash table from id to list position: reconstruct() (for scoring lexical-only
    # candidates) and remove_ids() both need it.
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    index.nprobe = probes(nlist)
    return index


def ivf_params(index: faiss.IndexIVF, allowed: np.ndarray | None) -> faiss.SearchParametersIVF:
    """Probe count for one search; a filter that admits a share f of the vectors probes
    1/f times more lists (all of them when it is narrow), so a filtered search still
    finds as many allowed vectors as an unfiltered one: exact for narrow filters."""
    nprobe = int(index.nprobe)
    if allowed is None:
        return faiss.SearchParametersIVF(nprobe=nprobe)
    share = max(len(allowed), 1) / max(int(index.ntotal), 1)
    nprobe = min(int(index.nlist), math.ceil(nprobe / share))
    return faiss.SearchParametersIVF(
        sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)), nprobe=nprobe)


class Reservoir:
    """A uniform random sample of at most `size` rows from a stream of batches."""

    def __init__(self, size: int = MAX_TRAIN, seed: int = 0) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.keys = np.zeros(0)
        self.rows: np.ndarray | None = None
        self.seen = 0

    def add(self, rows: np.ndarray) -> None:
        self.seen += len(rows)
        keys = np.concatenate([self.keys, self.rng.random(len(rows))])
        stacked = rows if self.rows is None else np.vstack([self.rows, rows])
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size)[: self.size]
            keys, stacked = keys[keep], stacked[keep]
        self.keys, self.rows = keys, stacked
