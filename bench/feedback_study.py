"""Does staff feedback improve later searches? Simulated on a judged query set.

Half the judged queries play "earlier searches": a simulated staffer marks each of
their top-5 results helpful (relevant) or not helpful (not relevant). The other half
are "later searches", scored by nDCG@10 with and without feedback in the ranking,
for several similarity thresholds (only feedback on queries at least that close to
the new one counts). A "same query again" row repeats the earlier queries themselves.

    python bench/feedback_study.py --index DIR --queries Q.jsonl --qrels QRELS.tsv
(the base is copied to a temp dir; the original is not changed)
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb import KnowledgeBase
from kb.search import feedback
from kb.search.evaluate import load_qrels, load_queries, mean_metrics


def ndcg(kb: KnowledgeBase, queries: list, qrels: dict, use_feedback: bool) -> float:
    results = kb.search_many([q.text for q in queries], 10, "hybrid", use_feedback=use_feedback)
    runs = {q.id: [h.case.id for h in r.hits] for q, r in zip(queries, results, strict=True)}
    return mean_metrics(runs, qrels)["nDCG@10"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--qrels", required=True)
    args = parser.parse_args()
    qrels = load_qrels(args.qrels)
    queries = [q for q in load_queries(args.queries) if q.id in qrels]
    random.Random(5).shuffle(queries)
    earlier, later = queries[: len(queries) // 2], queries[len(queries) // 2 :]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "kb"
        shutil.copytree(args.index, root)
        with KnowledgeBase.open(root) as kb:
            base_later = ndcg(kb, later, qrels, False)
            base_earlier = ndcg(kb, earlier, qrels, False)
            marks = 0
            for q, result in zip(earlier, kb.search_many([q.text for q in earlier], 5),
                                 strict=True):
                for rank, hit in enumerate(result.hits, start=1):
                    kb.record_feedback(q.text, hit.case.id, hit.case.id in qrels[q.id], rank)
                    marks += 1
            print(f"{len(earlier)} earlier queries gave {marks} feedback marks; "
                  f"{len(later)} later queries")
            print(f"same query again      nDCG@10 {base_earlier:.4f} -> "
                  f"{ndcg(kb, earlier, qrels, True):.4f}")
            default = feedback.MIN_SIMILARITY
            for threshold in (0.6, 0.7, 0.75, 0.8, 0.9):
                feedback.MIN_SIMILARITY = threshold
                kb._feedback_key = None  # reload with the new threshold
                mark = " (default)" if threshold == default else ""
                print(f"later, cos>={threshold:<4}      nDCG@10 {base_later:.4f} -> "
                      f"{ndcg(kb, later, qrels, True):.4f}{mark}")
            feedback.MIN_SIMILARITY = default


if __name__ == "__main__":
    main()
