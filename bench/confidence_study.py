"""Where does "a close past case" end? Dense similarity of the top hit, with and without answers.

For each judged query the hybrid candidates are gathered once (kb.candidate_pools), fused
as search fuses them, and two top hits are taken: the real top hit (answers present) and
the top hit once every relevant case is removed from the pool (as if the base had no such
case). The cosine of each tells where to put the thresholds of 類似度 high / medium / low
and of 「近い過去事例は見つかりませんでした」 (kb/search/confidence.py).

    python bench/confidence_study.py --index DIR --queries Q.jsonl --qrels QRELS.tsv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb import KnowledgeBase
from kb.search.evaluate import load_qrels, load_queries
from kb.search.fusion import fuse

QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def top_cosines(pools: list, queries: list, qrels: dict, prior: float
                ) -> tuple[list[float], list[float], list[float]]:
    """Cosine of the top hit when it is relevant, when it is not, and with answers removed."""
    right, wrong, removed = [], [], []
    for q, (ids, d, lx) in zip(queries, pools, strict=True):
        if not ids:
            continue
        fused = fuse("adaptive", d, lx, prior)
        order = np.argsort(-fused, kind="stable")
        relevant = qrels[q.id]
        (right if ids[order[0]] in relevant else wrong).append(float(d[order[0]]))
        rest = [i for i in order if ids[i] not in relevant]
        if rest:
            removed.append(float(d[rest[0]]))
    return right, wrong, removed


def describe(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<28} (none)"
    qs = np.quantile(values, QUANTILES)
    return f"{name:<28} n={len(values):<5} " + " ".join(
        f"q{int(p * 100):02d} {v:.3f}" for p, v in zip(QUANTILES, qs, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--qrels", required=True)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    qrels = load_qrels(args.qrels)
    queries = [q for q in load_queries(args.queries) if q.id in qrels][: args.limit]
    with KnowledgeBase.open(args.index, create=False) as kb:
        pools = kb.candidate_pools([q.text for q in queries])
        stats = kb.stats()
    print(f"{len(queries)} queries, {stats.cases} cases, model {stats.model}")
    right, wrong, removed = top_cosines(pools, queries, qrels, stats.fusion_dense_prior)
    print(describe("top hit relevant", right))
    print(describe("top hit not relevant", wrong))
    print(describe("answers removed: top hit", removed))
    for t in np.arange(0.30, 0.96, 0.025):
        kept = np.mean(np.asarray(right) >= t) if right else 0.0
        flagged = np.mean(np.asarray(removed) < t) if removed else 0.0
        print(f"threshold {t:.3f}: relevant top hits kept {kept:.2f}, "
              f"answer-less queries told 'no close case' {flagged:.2f}")


if __name__ == "__main__":
    main()
