"""Clustering time and memory at 100k cases, end to end from the knowledge base's SQLite.

There is no real 100k-case ledger here, and embedding 100k cases with USE on 2 cores would
take hours, so the cases are synthesised from real ones: each synthetic case mixes the vector
of a real case (CFPB and the sample ledger, from the bases bench/cluster_quality.py built)
with two of its ten nearest real neighbours (Dirichlet(2, 1, 1) weights), adds Gaussian noise
(sigma 0.02 per dimension) and renormalises; its tokens are 70% of the real case's plus 20%
of a neighbour's; dates are spread over 2020-2025. They are written straight into a fresh
base (cases, chunks with vectors, FTS5 rows) and clustered with `kb.clusters.report.cluster_cases`,
exactly what `kb clusters` runs.

    python bench/cluster_scale.py [--cases 100000] [--workdir /tmp/kb-cluster-bench]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.records import Case
from kb import Filters, KnowledgeBase
from kb.clusters.method import features, knn, knn_graph, louvain, spectral
from kb.clusters.report import clear_cache, cluster_cases
from kb.storage.selection import CaseRow, load_selection


def real_cases(sources: list[Path]) -> tuple[list[CaseRow], np.ndarray, list[list[str]]]:
    rows: list[CaseRow] = []
    vectors, tokens = [], []
    for source in sources:
        selection = load_selection(source / "kb.sqlite3", Filters())
        rows += selection.rows
        vectors.append(selection.vectors)
        tokens += selection.tokens
        print(f"  {len(selection.rows)} real cases from {source}")
    return rows, np.vstack(vectors), tokens


def synthesise(n: int, rows: list[CaseRow], vectors: np.ndarray, tokens: list[list[str]],
               seed: int = 0) -> tuple[list[Case], np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    _, near = knn(vectors, 10)
    base = rng.integers(0, len(rows), n)
    first = near[base, rng.integers(0, 10, n)]
    second = near[base, rng.integers(0, 10, n)]
    weights = rng.dirichlet((2.0, 1.0, 1.0), n).astype(np.float32)
    mixed = (weights[:, :1] * vectors[base] + weights[:, 1:2] * vectors[first]
             + weights[:, 2:] * vectors[second])
    mixed += rng.normal(0, 0.02, mixed.shape).astype(np.float32)
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    start = dt.date(2020, 1, 1)
    days = rng.integers(0, 6 * 365, n)
    cases, fts = [], []
    for i in range(n):
        real = rows[int(base[i])]
        keep = [t for t in tokens[int(base[i])] if rng.random() < 0.7]
        keep += [t for t in tokens[int(first[i])] if rng.random() < 0.2]
        cases.append(Case(id=f"S-{i:06d}", content=real.content, title=real.title,
                          date=(start + dt.timedelta(days=int(days[i]))).isoformat(),
                          product=real.product, category=real.category,
                          prevention=real.prevention if rng.random() < 0.5 else "",
                          escalated=bool(rng.random() < 0.15)))
        fts.append(" ".join(keep))
    return cases, mixed, fts


def write_base(directory: Path, cases: list[Case], vectors: np.ndarray, fts: list[str]) -> None:
    """Store synthetic cases as ingest would, minus the embedding (vectors are given)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with KnowledgeBase.open(directory) as kb, kb.store.transaction():
        for case, vector, tokens in zip(cases, vectors, fts, strict=True):
            kb.store.upsert_case(case, now)
            text = case.complaint_text()
            digest = hashlib.sha1(f"{case.id}\x1f{text}".encode()).hexdigest()
            kb.store.insert_chunk(case.id, "complaint", 0, text, digest, vector, tokens)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kb-cluster-bench"))
    parser.add_argument("--keep", action="store_true", help="reuse the synthetic base if present")
    args = parser.parse_args()
    sources = [p for p in (args.workdir / "cfpb", args.workdir / "sample")
               if (p / "kb.sqlite3").exists()]
    if not sources:
        print(f"no real bases under {args.workdir}: run bench/cluster_quality.py first")
        return 2
    target = args.workdir / f"synthetic_{args.cases}"
    if not (args.keep and (target / "kb.sqlite3").exists()):
        shutil.rmtree(target, ignore_errors=True)
        rows, vectors, tokens = real_cases(sources)
        started = time.perf_counter()
        cases, mixed, fts = synthesise(args.cases, rows, vectors, tokens)
        write_base(target, cases, mixed, fts)
        print(f"  synthesised and stored {args.cases:,} cases in {time.perf_counter() - started:.0f} s")
    print(f"machine: {__import__('os').cpu_count()} cores; peak RSS before clustering "
          f"{peak_mb():.0f} MB")

    with KnowledgeBase.open(target) as kb:
        clear_cache()
        started = time.perf_counter()
        report = cluster_cases(kb)
        total = time.perf_counter() - started
        cached_start = time.perf_counter()
        cluster_cases(kb)
        cached = time.perf_counter() - cached_start
    print(f"\nend to end `cluster_cases` on {report.n_cases:,} cases: {total:.1f} s "
          f"(second call, cached: {cached * 1000:.1f} ms); peak RSS {peak_mb():.0f} MB")
    print(f"  {len(report.clusters)} clusters ({report.algorithm}; Louvain found {report.k_found} "
          f"communities of >= {max(3, int(np.ceil(0.002 * report.n_cases)))} cases), "
          f"{len(report.outliers):,} outliers ({len(report.outliers) / report.n_cases:.1%}), "
          f"{sum(len(c.issues) for c in report.clusters):,} issues, "
          f"{sum(c.x is not None for c in report.cases.values()):,} cases on the map")

    print("\nstage by stage (run again, separately):")
    timed: dict[str, float] = {}

    def stage(name: str, start: float) -> None:
        timed[name] = time.perf_counter() - start
        print(f"  {name:<44} {timed[name]:6.1f} s", flush=True)

    t = time.perf_counter()
    selection = load_selection(target / "kb.sqlite3", Filters())
    stage("read cases, vectors, tokens from SQLite", t)
    t = time.perf_counter()
    feats = features(selection.vectors, selection.tokens)
    stage("features (PCA + TF-IDF/SVD)", t)
    t = time.perf_counter()
    graph = knn_graph(feats, 10)
    stage("kNN graph (FAISS IVF above 20k cases)", t)
    t = time.perf_counter()
    louvain(graph)
    stage("Louvain communities", t)
    if report.n_cases <= 20_000:
        t = time.perf_counter()
        spectral(graph, len(report.clusters))
        stage("spectral partition", t)
    print(f"  (describe, issues and map: the rest of the {total:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
