"""Where exact search stops being fast enough, and the IVF probe share that keeps recall@10
at 0.95 or more, measured on real embeddings in one run.

    python bench/ann_threshold.py --index /tmp/kb-scale/100k --sizes 10000,25000,50000,100000

Vectors: the base's stored chunk vectors (real USE embeddings of the ingested cases); sizes
beyond the base are filled with perturbed copies (a real vector mixed with another, plus
noise, renormalised). Queries: real JaQuAD question embeddings. Per size: exact single-query
latency (1 thread, as on the search path), and for IVF (kb/index/ivf.py sizing) its
training time, then p50 latency and recall@10 against exact for several probe shares.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb.embeddings import load_embedder
from kb.index import ivf as approx
from kb.index.faiss import VectorIndex

QUERIES = ROOT.parent / "shared" / "data" / "jaquad_dev" / "queries.jsonl"


def stored_vectors(index_dir: Path, limit: int) -> np.ndarray:
    db = sqlite3.connect(index_dir / "kb.sqlite3")
    rows = db.execute("SELECT vector FROM chunks WHERE vector IS NOT NULL ORDER BY id LIMIT ?",
                      (limit,)).fetchall()
    db.close()
    return np.vstack([np.frombuffer(r[0], dtype=np.float32) for r in rows])


def perturbed(real: np.ndarray, n: int, seed: int = 0, noise: float = 0.03) -> np.ndarray:
    """`n` vectors near real ones: mixed with another real vector, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        a, b = rng.integers(0, len(real), m), rng.integers(0, len(real), m)
        w = rng.uniform(0.6, 1.0, (m, 1)).astype(np.float32)
        block = w * real[a] + (1 - w) * real[b]
        block += rng.normal(0, noise, block.shape).astype(np.float32)
        out[s : s + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def query_vectors(n: int) -> np.ndarray:
    with QUERIES.open(encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle][:n]
    return load_embedder().encode_queries(texts)


def p50_ms(index: VectorIndex, queries: np.ndarray) -> tuple[float, list[set[int]]]:
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q, 10)
        times.append((time.perf_counter() - t) * 1000)
        found.append(set(ids.tolist()))
    return float(np.percentile(times, 50)), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--sizes", default="10000,25000,50000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--shares", default="0.02,0.04,0.06,0.1")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    real = stored_vectors(args.index, max(sizes))
    queries = query_vectors(args.queries)
    print(f"{len(real):,} real vectors from {args.index}; {len(queries)} JaQuAD query vectors; "
          f"faiss threads on the query path: 1")
    for n in sizes:
        data = real[:n] if n <= len(real) else np.vstack([real, perturbed(real, n - len(real))])
        ids = np.arange(n, dtype=np.int64)
        exact = VectorIndex(data.shape[1])
        exact.add(ids, data)
        exact_ms, truth = p50_ms(exact, queries)
        t = time.perf_counter()
        ivf = VectorIndex(data.shape[1], approx.train_ivf(data.shape[1], n, data[
            np.random.default_rng(0).permutation(n)[: approx.MAX_TRAIN]]))
        with approx.all_cores():
            ivf.add(ids, data)
        build = time.perf_counter() - t
        print(f"\nN={n:,}: exact p50 {exact_ms:.2f} ms; IVF {ivf.index.nlist} lists, built in "
              f"{build:.1f} s")
        for share in (float(s) for s in args.shares.split(",")):
            ivf.index.nprobe = min(ivf.index.nlist, max(approx.MIN_PROBES,
                                                        int(np.ceil(share * ivf.index.nlist))))
            ms, found = p50_ms(ivf, queries)
            recall = np.mean([len(f & t) / max(len(t), 1) for f, t in zip(found, truth,
                                                                         strict=True)])
            print(f"  probe share {share:.2f} (nprobe {ivf.index.nprobe:>4}): recall@10 "
                  f"{recall:.3f}, p50 {ms:.2f} ms ({exact_ms / ms:.1f}x faster than exact)")
        del exact, ivf, data
    faiss.omp_set_num_threads(1)


if __name__ == "__main__":
    main()
