"""Warm single-query latency per search mode on an existing base (query embedding included).

    python bench/latency.py --index DIR --queries Q.jsonl [--n 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb import KnowledgeBase
from kb.search.evaluate import load_queries
from kb.search.results import MODES


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    queries = [q.text for q in load_queries(args.queries)][: args.n]
    started = time.perf_counter()
    kb = KnowledgeBase.open(args.index, create=False)
    kb.search(queries[0])
    cold = time.perf_counter() - started
    print(f"{kb.stats().cases} cases; open + first search {cold * 1000:.0f} ms")
    for mode in MODES:
        for q in queries[:20]:  # warm-up
            kb.search(q, mode=mode)
        times = []
        for q in queries:
            t0 = time.perf_counter()
            kb.search(q, mode=mode)
            times.append((time.perf_counter() - t0) * 1000)
        p50, p95 = np.percentile(times, [50, 95])
        print(f"{mode:<8} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  ({len(times)} queries)")


if __name__ == "__main__":
    main()
