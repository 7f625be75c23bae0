"""Staff feedback: stored with its query, used as judgments and as a ranking signal.

Ranking: when a new query is close to queries that got feedback, cases marked
helpful there move up and cases marked not helpful move down, in proportion to
how close the queries are. Only near-paraphrases count (cosine >= MIN_SIMILARITY,
and >= MIN_SIMILARITY_NEGATIVE for "not helpful"); unrelated feedback never
touches a ranking. BENCHMARKS.md has the measurement.
"""

from __future__ import annotations

import numpy as np

from kb.storage.records import Feedback

MIN_SIMILARITY = 0.75
# "Not helpful" only says the case did not fit that very question; applied to merely
# similar queries it demoted cases that did fit (bench/feedback_study.py).
MIN_SIMILARITY_NEGATIVE = 0.9
WEIGHT = 1.0  # in the z-score units of the fused hybrid score


def judgments(items: list[Feedback]) -> tuple[list[tuple[str, str]], dict[str, dict[str, float]]]:
    """Queries (id, text) and qrels from feedback: helpful = relevant (grade 1).

    Queries with only 'not helpful' marks have no relevant case and are left out.
    """
    texts: dict[str, str] = {}
    qrels: dict[str, dict[str, float]] = {}
    for item in items:
        qid = texts.setdefault(item.query, f"fb{len(texts) + 1}")
        if item.helpful:
            qrels.setdefault(qid, {})[item.case_id] = 1.0
    queries = [(qid, text) for text, qid in texts.items() if qid in qrels]
    return queries, qrels


class FeedbackIndex:
    """Query vectors with their judgments, loaded once per state of the base."""

    def __init__(self, vectors: np.ndarray, case_ids: list[str], signs: np.ndarray) -> None:
        self.vectors, self.case_ids, self.signs = vectors, case_ids, signs

    def __len__(self) -> int:
        return len(self.case_ids)

    def boosts(self, query_vector: np.ndarray) -> dict[str, float]:
        """Score adjustment per case for this query (empty when no similar query had feedback)."""
        if not len(self):
            return {}
        sims = self.vectors @ np.asarray(query_vector, np.float32)
        out: dict[str, float] = {}
        for i in np.flatnonzero(sims >= MIN_SIMILARITY):
            if self.signs[i] < 0 and sims[i] < MIN_SIMILARITY_NEGATIVE:
                continue
            strength = (sims[i] - MIN_SIMILARITY) / (1.0 - MIN_SIMILARITY) * 0.5 + 0.5
            out[self.case_ids[i]] = out.get(self.case_ids[i], 0.0) + WEIGHT * strength * self.signs[i]
        return out
