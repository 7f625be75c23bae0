"""Where does "a close past case" end? The top hit's cosine and word coverage, with and
without answers in the base.

For each judged query, hybrid search returns its top 50 cases once; two top hits are taken:
the real top hit (answers present) and the first hit that is not relevant (as if every
relevant case had been removed from the base). Their cosine (query vs best chunk) and
coverage (share of the query's telling words the case contains) tell where to put the
thresholds of 類似度 and of 「近い過去事例は見つかりませんでした」 (kb/search/confidence.py).
The last lines score the shipped thresholds of the base's model.

    python bench/confidence_study.py --index DIR --queries Q.jsonl --qrels QRELS.tsv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb import KnowledgeBase
from kb.index.analyser import typed_words
from kb.search.confidence import bands_for
from kb.search.evaluate import load_qrels, load_queries

QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def top_hits(kb: KnowledgeBase, queries: list, qrels: dict) -> dict[str, list[tuple]]:
    """(cosine, coverage, telling words) of relevant top hits, irrelevant top hits, and the
    top hit with answers removed."""
    found: dict[str, list[tuple]] = {"relevant": [], "not relevant": [], "answers removed": []}
    results = kb.search_many([q.text for q in queries], top_k=50, use_feedback=False)
    for q, result in zip(queries, results, strict=True):
        if not result.hits:
            continue
        words = len(typed_words(q.text))
        relevant = qrels[q.id]
        top = result.hits[0]
        found["relevant" if top.case.id in relevant else "not relevant"].append(
            (top.dense_score, top.coverage, words))
        rest = [h for h in result.hits if h.case.id not in relevant]
        if rest:
            found["answers removed"].append((rest[0].dense_score, rest[0].coverage, words))
    return found


def describe(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<34} (none)"
    qs = np.quantile(values, QUANTILES)
    return f"{name:<34} n={len(values):<5} " + " ".join(
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
        found = top_hits(kb, queries, qrels)
        model = kb.stats().model
    print(f"{len(queries)} queries, model {model}")
    for name, rows in found.items():
        print(describe(f"cosine, top hit {name}", [r[0] for r in rows]))
        print(describe(f"coverage, top hit {name}", [r[1] or 0.0 for r in rows]))
    bands = bands_for(model)
    if bands is None:
        print("no shipped thresholds for this model")
        return
    for name, rows in found.items():
        levels = [bands.level(c, cov, w) for c, cov, w in rows]
        share = {lv: levels.count(lv) / max(len(levels), 1) for lv in ("high", "medium", "low")}
        print(f"shipped {bands}: top hit {name}: " + ", ".join(
            f"{lv} {v:.2f}" for lv, v in share.items()))


if __name__ == "__main__":
    main()
