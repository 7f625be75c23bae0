"""Clustering of case vectors: pure numpy/scipy/scikit-learn, no SQLite, no UI.

Pipeline (chosen by measurement, see bench/cluster_quality.py and BENCHMARKS.md):

1. Features: the case embedding (PCA to at most 100 dimensions) beside a lexical part
   (TF-IDF over our Sudachi tokens, reduced by truncated SVD to at most 100 dimensions),
   each L2-normalised and weighted equally. The embedding alone lost to TF-IDF + KMeans on
   long English narratives (CFPB); TF-IDF alone loses on short paraphrases; the two together
   beat the baseline on every labelled set we have.
2. A k-nearest-neighbour graph (k=10) over those features: exact for small bases, an
   inverted-file index above EXACT_KNN_MAX so that 100k cases stay fast.
3. The number of clusters: Louvain modularity on that graph (communities of at least
   `min_size` cases). Modularity picks the number of groups from the data itself and, unlike
   HDBSCAN on our embeddings, leaves no case out as noise.
4. The partition: spectral clustering of the same graph into that many groups (same count,
   but it agreed better with human labels on CFPB than the Louvain communities did). Above
   SPECTRAL_MAX cases the eigen-decomposition takes minutes, so the Louvain communities
   themselves are the partition (or KMeans on the features when the user fixes k).
5. Groups below `min_size` are dissolved: their cases join the nearest cluster and are
   reported as outliers, so nothing is hidden. Beyond `max_clusters` the smallest groups
   are merged into their nearest cluster (not outliers: they are groups, just small ones).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

FEATURE_DIMS = 100
EXACT_KNN_MAX = 20_000  # above this, an IVF index: exact kNN over 100k x 200 took ~50 s on 2 cores
SPECTRAL_MAX = 20_000  # eigsh for ~50 eigenvectors of a 100k-node graph took 100-160 s on 2 cores
DENSE_EIGEN_MAX = 500  # below this a dense eigen-decomposition is simpler and as fast


@dataclass(frozen=True, slots=True)
class Partition:
    """Cluster of every case (0..k-1, largest first), which were reassigned, and the features."""

    labels: np.ndarray  # int, one per case
    outliers: np.ndarray  # bool, one per case: its group was below min_size; it joined the nearest
    features: np.ndarray  # float32, unit rows: what the clusters were formed on
    k_found: int  # clusters the data suggested (Louvain), before any cap or user choice
    algorithm: str  # "spectral" or "louvain"


def min_cluster_size(n: int) -> int:
    """Smallest group shown as a cluster: 3 cases, or 0.2% of the selection when larger."""
    return max(3, int(np.ceil(0.002 * n)))


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def features(vectors: np.ndarray, tokens: Sequence[Sequence[str]], text_weight: float = 0.5,
             seed: int = 0, dims: int = FEATURE_DIMS) -> np.ndarray:
    """Embedding and TF-IDF, each reduced and unit-normalised, side by side (unit rows)."""
    from sklearn.decomposition import PCA, TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(vectors)
    vectors = _unit(vectors)
    if n < 3:
        return vectors
    pca = PCA(min(dims, n - 1, vectors.shape[1]), random_state=seed,
              svd_solver="randomized" if n > 2000 else "auto")
    dense = _unit(pca.fit_transform(vectors))
    lexical = None
    if text_weight > 0:
        tfidf = TfidfVectorizer(analyzer=_identity, min_df=2, sublinear_tf=True, dtype=np.float32)
        try:
            matrix = tfidf.fit_transform(tokens)
        except ValueError:  # no token occurs twice: nothing lexical to add
            matrix = None
        if matrix is not None and matrix.shape[1] > 2:
            svd = TruncatedSVD(min(dims, matrix.shape[1] - 1, n - 1), random_state=seed)
            lexical = _unit(svd.fit_transform(matrix))
    if lexical is None:
        return dense
    combined = np.hstack([np.sqrt(1 - text_weight) * dense, np.sqrt(text_weight) * lexical])
    return _unit(combined)


def _identity(doc: Sequence[str]) -> Sequence[str]:
    """Tokens come pre-segmented by kb.analyser (Sudachi), so TF-IDF must not split again."""
    return doc


_threads_lock = threading.Lock()


class _SharedLimit:
    """One BLAS/OpenMP thread for the numeric steps (PCA, SVD, eigen-decomposition, t-SNE)
    while other work keeps the cores busy, as right after an ingest.

    Measured on the 2-core machine with the load average at 5: PCA of the sample's 360 x 384
    vectors took 1.76 s on OpenBLAS's two threads and 0.07 s on one, the TF-IDF SVD 3.3 s
    against 0.035 s, t-SNE 6.1 s against 1.4 s: threads spinning while they wait for a busy
    core. The limit is process-wide (threadpoolctl), so overlapping computations share one
    and the last to finish restores the threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._limit: threadpool_limits | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        from threadpoolctl import threadpool_limits

        from kb.embeddings import cores_busy

        with self._lock:
            if self._users == 0 and cores_busy():
                self._limit = threadpool_limits(limits=1)
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._limit is not None:
                    self._limit.restore_original_limits()
                    self._limit = None


numeric_threads = _SharedLimit().held


@contextmanager
def _faiss_threads() -> Iterator[None]:
    """Batch kNN wants every core; the search path keeps FAISS at one thread (kb/vector_index).

    The lock keeps two overlapping clusterings from restoring each other's setting and
    leaving searches on all cores.
    """
    import faiss

    with _threads_lock:
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(before)


def knn(features_: np.ndarray, neighbours: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, indices) of each row's nearest other rows; -1 where an IVF probe found none."""
    import faiss

    data = np.ascontiguousarray(features_, dtype=np.float32)
    n, dim = data.shape
    neighbours = min(neighbours, n - 1)
    with _faiss_threads():
        if n > EXACT_KNN_MAX:
            lists = int(4 * np.sqrt(n))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = seed
            index.train(data)
            index.add(data)
            index.nprobe = 8
        else:
            index = faiss.IndexFlatIP(dim)
            index.add(data)
        sims, ids = index.search(data, neighbours + 1)
    # Drop each row's own entry (usually first, but ties with duplicates can move it).
    own = ids == np.arange(n)[:, None]
    own[:, -1] |= ~own.any(axis=1)
    keep = ~own
    return (sims[keep].reshape(n, neighbours), ids[keep].reshape(n, neighbours))


def knn_graph(features_: np.ndarray, neighbours: int = 10, seed: int = 0) -> sp.csr_matrix:
    """Symmetric kNN adjacency (1 for a one-way link, 2 for a mutual one, halved)."""
    n = len(features_)
    _, ids = knn(features_, neighbours, seed)
    rows = np.repeat(np.arange(n), ids.shape[1])
    cols = ids.ravel()
    keep = cols >= 0
    adjacency = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(n, n))
    return (0.5 * (adjacency + adjacency.T)).tocsr()


def louvain(adjacency: sp.spmatrix, seed: int = 0, resolution: float = 1.0) -> np.ndarray:
    """Community of each node by Louvain modularity (networkx), numbered largest first."""
    import networkx as nx

    graph = nx.from_scipy_sparse_array(adjacency)
    communities = nx.community.louvain_communities(graph, resolution=resolution, seed=seed)
    labels = np.empty(adjacency.shape[0], dtype=np.int64)
    for number, members in enumerate(sorted(communities, key=len, reverse=True)):
        labels[list(members)] = number
    return labels


def spectral(adjacency: sp.spmatrix, k: int, seed: int = 0) -> np.ndarray:
    """Normalised spectral clustering (Ng-Jordan-Weiss) of a graph into k groups."""
    from scipy.sparse.linalg import eigsh
    from sklearn.cluster import KMeans

    n = adjacency.shape[0]
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    scale = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    normalised = sp.diags(scale) @ adjacency @ sp.diags(scale)
    if n <= DENSE_EIGEN_MAX or k >= n - 1:
        _, vectors = np.linalg.eigh(normalised.toarray())
        vectors = vectors[:, ::-1][:, :k]
    else:
        start = np.random.default_rng(seed).uniform(-1, 1, n)
        _, vectors = eigsh(normalised, k=k, which="LA", tol=1e-5, v0=start)
    embedding = _unit(vectors * scale[:, None])
    return KMeans(k, n_init=4, random_state=seed).fit_predict(embedding)


def partition(vectors: np.ndarray, tokens: Sequence[Sequence[str]], n_clusters: int | None = None,
              neighbours: int = 10, text_weight: float = 0.5, max_clusters: int = 100,
              seed: int = 0) -> Partition:
    """Cluster cases given their embeddings and tokens (see the module docstring)."""
    n = len(vectors)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Partition(empty, empty.astype(bool), np.zeros((0, 0), np.float32), 0, "none")
    feats = features(vectors, tokens, text_weight, seed)
    min_size = min_cluster_size(n)
    if n < 2 * min_size:
        ones = np.zeros(n, dtype=np.int64)
        return Partition(ones, np.zeros(n, bool), feats, 1, "none")
    adjacency = knn_graph(feats, neighbours, seed)
    communities = louvain(adjacency, seed)
    sizes = np.bincount(communities)
    k_found = int((sizes >= min_size).sum()) or 1
    k = max(1, min(n_clusters or k_found, max_clusters, n // min_size))
    if k == 1:
        labels, algorithm = np.zeros(n, dtype=np.int64), "none"
    elif n <= SPECTRAL_MAX:
        labels, algorithm = spectral(adjacency, k, seed), "spectral"
    elif n_clusters:  # a fixed k on a large base: KMeans on the same features, in seconds
        from sklearn.cluster import KMeans

        labels, algorithm = KMeans(k, n_init=2, random_state=seed).fit_predict(feats), "kmeans"
    else:
        labels, algorithm = communities, "louvain"
    labels, outliers = _dissolve_small(feats, labels, min_size, k)
    log.info("clustered %d cases into %d clusters (%s; data suggested %d), %d outliers",
             n, labels.max() + 1, algorithm, k_found, int(outliers.sum()))
    return Partition(labels, outliers, feats, k_found, algorithm)


def _dissolve_small(feats: np.ndarray, labels: np.ndarray, min_size: int,
                    keep_at_most: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the largest groups of at least min_size; the others join their nearest kept centroid.

    Only cases from groups below min_size count as outliers (noise); whole groups beyond
    `keep_at_most` are merged for readability, which is not the same as being noise.
    """
    sizes = np.bincount(labels)
    order = np.argsort(-sizes, kind="stable")
    kept = [int(c) for c in order[:keep_at_most] if sizes[c] >= min_size] or [int(order[0])]
    renumber = np.full(len(sizes), -1, dtype=np.int64)
    renumber[kept] = np.arange(len(kept))
    new = renumber[labels]
    moved = new < 0
    if moved.any():
        centroids = _unit(np.vstack([feats[labels == c].mean(axis=0) for c in kept]))
        new[moved] = np.argmax(feats[moved] @ centroids.T, axis=1)
    by_size = np.argsort(-np.bincount(new), kind="stable")  # number the final clusters largest first
    rank = np.empty_like(by_size)
    rank[by_size] = np.arange(len(by_size))
    return rank[new], moved & (sizes[labels] < min_size)


def subgroups(feats: np.ndarray, labels: np.ndarray, neighbours: int = 5, min_size: int = 3,
              seed: int = 0) -> np.ndarray:
    """Issues inside each cluster: Louvain on a kNN graph of the cluster's own cases.

    Returns an issue number per case, unique across clusters, or -1 for cases whose group
    has fewer than `min_size` cases. Prevention effectiveness is judged per issue, because a
    cluster (say, earphone defects) mixes problems that a measure does or does not address.
    """
    out = np.full(len(labels), -1, dtype=np.int64)
    next_id = 0
    for cluster in range(int(labels.max()) + 1 if len(labels) else 0):
        members = np.flatnonzero(labels == cluster)
        if len(members) < min_size:
            continue
        if len(members) <= neighbours + 1:
            local = np.zeros(len(members), dtype=np.int64)
        else:
            local = louvain(knn_graph(feats[members], neighbours, seed), seed)
        for group in range(int(local.max()) + 1):
            chosen = members[local == group]
            if len(chosen) >= min_size:
                out[chosen] = next_id
                next_id += 1
    return out


def layout_2d(feats: np.ndarray, labels: np.ndarray, max_points: int = 3000,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the cases drawn, their 2-D t-SNE coordinates) for the cluster map.

    t-SNE keeps neighbours together, which is what a reader of the map looks for; above
    `max_points` a sample is drawn (every cluster keeps at least a few points) to bound time.
    """
    from sklearn.manifold import TSNE

    n = len(feats)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2), np.float32)
    chosen = np.arange(n)
    if n > max_points:
        rng = np.random.default_rng(seed)
        picks = [rng.choice(np.flatnonzero(labels == c),
                            size=min(int((labels == c).sum()), 5), replace=False)
                 for c in range(int(labels.max()) + 1)]
        must = np.unique(np.concatenate(picks))
        rest = np.setdiff1d(np.arange(n), must)
        extra = rng.choice(rest, size=max(0, max_points - len(must)), replace=False)
        chosen = np.sort(np.concatenate([must, extra]))
    if len(chosen) < 4:
        coords = np.zeros((len(chosen), 2), np.float32)
        coords[:, 0] = np.arange(len(chosen))
        return chosen, coords
    tsne = TSNE(2, init="pca", random_state=seed, perplexity=min(30.0, (len(chosen) - 1) / 3),
                max_iter=500)
    return chosen, tsne.fit_transform(feats[chosen]).astype(np.float32)
