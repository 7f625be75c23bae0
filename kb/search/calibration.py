"""Tune the hybrid fusion weight to this knowledge base, using its own labels.

No single fixed weight suits every base: on JaQuAD lexical is far ahead, on the demo
ledger and on paraphrases dense is (BENCHMARKS.md). A ledger usually knows which cases
belong together, though: the same category and product (分類 and 商品). So held-out
cases act as queries and the cases that share a label with them as the relevant answers,
and the dense prior that ranks them best is stored in the manifest.

Two guards keep one label definition from overfitting the weight:
- every usable definition (category+product, category, product) scores each prior, and
  the prior with the best mean over the definitions wins (the model's default,
  kb/search/fusion.py, on a near tie);
- the priors tried run from 0.2 to 0.8: neither half is ever dropped. A label is a coarse
  notion of "similar" (same product and category); a query that names a detail (「違う色」)
  needs the lexical half even where labels say dense ranks best on average.
Bases without usable labels keep the default prior of their model.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from kb.embeddings import Embedder
from kb.index.analyser import fts_query
from kb.index.base import LexicalBackend, VectorBackend
from kb.search.cases import gather
from kb.search.evaluate import metrics_for
from kb.search.fusion import (
    DEFAULT_DENSE_PRIOR,
    MAX_DENSE_PRIOR,
    MIN_DENSE_PRIOR,
    adaptive,
    default_dense_prior,
)
from kb.storage.cases import Store
from kb.storage.filters import Filters

PRIORS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
assert PRIORS[0] == MIN_DENSE_PRIOR and PRIORS[-1] == MAX_DENSE_PRIOR
MIN_LABELLED = 40  # fewer labelled cases than this (in groups of 2+): too little to learn from
MAX_QUERIES = 300
# The best prior must beat the default by this much mean nDCG@10 to be chosen, else it is a
# tie. Small: every prior is scored on the same pseudo-queries, so the curve is smooth, and
# a wider guard (0.005) kept e5's demo ledger at 0.7 where 0.8 was better on held-out cases.
MIN_GAIN = 0.002

Pool = tuple[list[str], np.ndarray, np.ndarray]
Labels = dict[str, tuple[str, ...]]  # case id -> label value(s)
_DEFINITIONS: tuple[tuple[str, Callable[[tuple[str, ...]], tuple[str, ...]]], ...] = (
    ("category+product", lambda r: (r[1], r[2])), ("category", lambda r: (r[1],)),
    ("product", lambda r: (r[2],)), ("title", lambda r: (r[3],)))


@dataclass(frozen=True)
class Calibration:
    """The chosen prior and the evidence for it (mean nDCG@10 per prior)."""

    dense_prior: float
    label: str  # the definitions of "similar" used, e.g. "category+product,category,product"
    queries: int
    cases: int
    ndcg: dict[str, float]  # prior -> nDCG@10, the mean over the definitions
    per_label: dict[str, dict[str, float]] | None = None  # definition -> prior -> nDCG@10

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def label_definitions(rows: Sequence[tuple[str, ...]], titles: bool = False
                      ) -> dict[str, Labels]:
    """Every usable definition of "similar": (id, category, product, title) rows -> name ->
    case id -> label. Usable: 40+ cases in groups of two or more, and 2+ such groups.
    Category+product is dropped when it groups no differently from category or product.
    `titles`: also cases with the same title (bench/fusion_study.py only: it never
    changed a prior on the dev sets, and on JaQuAD it pointed away from what the real
    questions want; BENCHMARKS.md)."""
    found: dict[str, Labels] = {}
    for name, pick in _DEFINITIONS[: None if titles else 3]:
        labels = {r[0]: pick(r) for r in rows if all(pick(r))}
        sizes: dict[tuple[str, ...], int] = {}
        for label in labels.values():
            sizes[label] = sizes.get(label, 0) + 1
        groups = [n for n in sizes.values() if n >= 2]
        if sum(groups) >= MIN_LABELLED and len(groups) >= 2:
            found[name] = labels
    both = found.get("category+product")
    if both and any(_same_groups(both, found.get(n)) for n in ("category", "product")):
        del found["category+product"]
    return found


def _same_groups(a: Labels, b: Labels | None) -> bool:
    """Whether two labellings put the same cases together (one determines the other)."""
    if b is None or a.keys() != b.keys():
        return False
    return len(set(a.values())) == len(set(b.values())) == len({(a[c], b[c]) for c in a})


def pseudo_queries(definitions: dict[str, Labels], seed: int = 13,
                   limit: int = MAX_QUERIES) -> tuple[list[str], dict[str, dict[str, set[str]]]]:
    """Held-out cases (a seeded sample of those with a same-label partner under some
    definition) and, per definition, each one's relevant cases (the others of its label).

    Relevant sets are made for the sampled queries only: made for every case, a base of
    100k cases in a dozen categories held ~10^9 set entries and ingest ran out of memory."""
    members: dict[str, dict[tuple[str, ...], set[str]]] = {}
    for name, labels in definitions.items():
        for case_id, label in labels.items():
            members.setdefault(name, {}).setdefault(label, set()).add(case_id)
    pool = sorted({c for name, labels in definitions.items() for c, label in labels.items()
                   if len(members[name][label]) >= 2})
    queries = random.Random(seed).sample(pool, min(limit, len(pool)))
    relevant = {name: {q: members[name][labels[q]] - {q} for q in queries
                       if q in labels and len(members[name][labels[q]]) >= 2}
                for name, labels in definitions.items()}
    return queries, relevant


def pseudo_pools(store: Store, index: VectorBackend, lexical: LexicalBackend,
                 embedder: Embedder, queries: list[str],
                 progress: Callable[[int, int, str], None] | None = None) -> list[Pool]:
    """Hybrid candidates of each held-out case's complaint text, the case itself removed."""
    texts = store.contents(queries)
    vectors = _embed_queries(embedder, [texts[q] for q in queries], progress)
    pools: list[Pool] = []
    for n, (query_id, vector) in enumerate(zip(queries, vectors, strict=True), start=1):
        match = fts_query(texts[query_id])
        candidates = gather(store, index, lexical, vector, match, 100, Filters(), "hybrid")
        ids, dense, lex = candidates.complete(store, index, lexical, vector, match)
        keep = [i for i, c in enumerate(ids) if c != query_id]  # a case is not its own answer
        pools.append(([ids[i] for i in keep], dense[keep], lex[keep]))
        if progress and (n % 20 == 0 or n == len(queries)):
            progress(len(queries) + n, 2 * len(queries), "calibrate")
    return pools


def prior_curves(pools: Sequence[Pool], queries: Sequence[str],
                 relevant: dict[str, dict[str, set[str]]], priors: Sequence[float] = PRIORS,
                 fusion: Callable[[np.ndarray, np.ndarray, float], np.ndarray] = adaptive
                 ) -> dict[str, dict[float, float]]:
    """Per definition, the mean nDCG@10 of each prior over its pseudo-queries."""
    curves: dict[str, dict[float, float]] = {}
    for name, rel in relevant.items():
        totals = dict.fromkeys(priors, 0.0)
        judged = [(p, q) for p, q in zip(pools, queries, strict=True) if rel.get(q)]
        for (ids, dense, lex), query in judged:
            answers = dict.fromkeys(rel[query], 1.0)
            for prior in priors:
                order = np.argsort(-fusion(dense, lex, prior), kind="stable")[:10]
                totals[prior] += metrics_for([ids[i] for i in order], answers)["nDCG@10"]
        curves[name] = {p: t / max(len(judged), 1) for p, t in totals.items()}
    return curves


def choose_prior(curves: dict[str, dict[float, float]],
                 default: float = DEFAULT_DENSE_PRIOR) -> tuple[float, dict[float, float]]:
    """The prior with the best mean over the definitions (and that mean curve); the
    default unless the best beats it by MIN_GAIN. Ties go to the prior nearest the default."""
    priors = list(next(iter(curves.values())))
    mean = {p: float(np.mean([c[p] for c in curves.values()])) for p in priors}
    best = max(priors, key=lambda p: (round(mean[p], 4), -abs(p - default)))
    if default in mean and mean[best] < mean[default] + MIN_GAIN:
        best = default
    return best, mean


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
    definitions = label_definitions(store.labels())
    if not definitions:
        return None
    queries, relevant = pseudo_queries(definitions, seed)
    pools = pseudo_pools(store, index, lexical, embedder, queries, progress)
    curves = prior_curves(pools, queries, relevant)
    best, mean = choose_prior(curves, default_dense_prior(embedder.name))
    cases = len(set().union(*(labels.keys() for labels in definitions.values())))
    return Calibration(best, ",".join(definitions), len(queries), cases,
                       {str(p): round(v, 4) for p, v in mean.items()},
                       {name: {str(p): round(v, 4) for p, v in curve.items()}
                        for name, curve in curves.items()})
