"""Tune the hybrid fusion weight to this knowledge base, using its own labels.

No single fixed weight keeps hybrid at least as good as both halves everywhere:
on JaQuAD lexical is far ahead, on the demo ledger dense is (BENCHMARKS.md). A
ledger usually knows which cases belong together, though: the same category and
product (分類 and 商品). So held-out cases act as queries, cases with the same
labels as the relevant answers, and the dense prior that ranks them best (from
lexical-only 0.0 to dense-only 1.0) is stored in the manifest. Bases without
usable labels keep the default prior.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from kb.embeddings import Embedder
from kb.index.analyser import fts_query
from kb.index.base import LexicalBackend, VectorBackend
from kb.search.cases import gather
from kb.search.evaluate import metrics_for
from kb.search.fusion import DEFAULT_DENSE_PRIOR, adaptive
from kb.storage.cases import Store
from kb.storage.filters import Filters

PRIORS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
MIN_LABELLED = 40  # fewer labelled cases than this: too little to learn from
MAX_QUERIES = 300
# A blend must beat the better half alone by this much nDCG@10 to be chosen: gains
# smaller than this are within the noise of a few hundred pseudo-queries.
MIN_GAIN = 0.005


@dataclass(frozen=True)
class Calibration:
    """The chosen prior and the evidence for it (mean nDCG@10 per prior)."""

    dense_prior: float
    label: str  # which fields defined "similar": "category+product", "category", "product"
    queries: int
    cases: int
    ndcg: dict[str, float]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def _labels(store: Store) -> tuple[str, dict[str, tuple[str, ...]]] | None:
    """Case id -> label, using the most specific label fields the ledger fills in."""
    rows = store.labels()
    for name, pick in (("category+product", lambda r: (r[1], r[2])),
                       ("category", lambda r: (r[1],)), ("product", lambda r: (r[2],))):
        labels = {r[0]: pick(r) for r in rows if all(pick(r))}
        groups: dict[tuple[str, ...], int] = {}
        for label in labels.values():
            groups[label] = groups.get(label, 0) + 1
        useful = sum(n for n in groups.values() if n >= 2)
        if useful >= MIN_LABELLED and sum(1 for n in groups.values() if n >= 2) >= 2:
            return name, labels
    return None


def _embed_queries(embedder: Embedder, texts: list[str],
                   progress: Callable[[int, int, str], None] | None) -> np.ndarray:
    """The pseudo-queries' vectors, 32 at a time with progress: with e5 this takes about as
    long as embedding the cases did, and the bar (and its time left) should move meanwhile.
    Progress counts embedding then ranking, each query once: 2 x queries in all."""
    parts = []
    for start in range(0, len(texts), 32):
        parts.append(embedder.encode_queries(texts[start : start + 32]))
        if progress:
            progress(min(start + 32, len(texts)), 2 * len(texts), "calibrate")
    return np.vstack(parts) if parts else np.zeros((0, embedder.dim), np.float32)


def calibrate(store: Store, index: VectorBackend, lexical: LexicalBackend, embedder: Embedder,
              seed: int = 13,
              progress: Callable[[int, int, str], None] | None = None) -> Calibration | None:
    """Pick the dense prior that best ranks same-label cases; None without usable labels."""
    found = _labels(store)
    if found is None:
        return None
    label_name, labels = found
    members: dict[tuple[str, ...], list[str]] = {}
    for case_id, label in labels.items():
        members.setdefault(label, []).append(case_id)
    pool = [c for c, label in labels.items() if len(members[label]) >= 2]
    queries = random.Random(seed).sample(pool, min(MAX_QUERIES, len(pool)))
    texts = store.contents(queries)
    vectors = _embed_queries(embedder, [texts[q] for q in queries], progress)
    totals = dict.fromkeys(PRIORS, 0.0)
    for n, (query_id, vector) in enumerate(zip(queries, vectors, strict=True), start=1):
        match = fts_query(texts[query_id])
        candidates = gather(store, index, lexical, vector, match, 100, Filters(), "hybrid")
        ids, dense, lex = candidates.complete(store, index, lexical, vector, match)
        keep = [i for i, c in enumerate(ids) if c != query_id]  # a case is not its own answer
        ids = [ids[i] for i in keep]
        dense, lex = dense[keep], lex[keep]
        relevant = {c: 1.0 for c in members[labels[query_id]] if c != query_id}
        for prior in PRIORS:
            order = np.argsort(-adaptive(dense, lex, prior), kind="stable")[:10]
            totals[prior] += metrics_for([ids[i] for i in order], relevant)["nDCG@10"]
        if progress and (n % 20 == 0 or n == len(queries)):
            progress(len(queries) + n, 2 * len(queries), "calibrate")
    mean = {p: t / len(queries) for p, t in totals.items()}
    ndcg = {str(p): round(v, 4) for p, v in mean.items()}
    pure = max((0.0, 1.0), key=mean.__getitem__)
    # The best blend; on a tie, the prior nearest the default.
    blend = max(PRIORS[1:-1], key=lambda p: (round(mean[p], 4), -abs(p - DEFAULT_DENSE_PRIOR)))
    best = blend if mean[blend] >= mean[pure] + MIN_GAIN else pure
    return Calibration(best, label_name, len(queries), len(labels), ndcg)
