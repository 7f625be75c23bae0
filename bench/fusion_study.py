"""Compare fusion methods on one knowledge base from the same candidate scores.

Candidates (dense and lexical scores of every case either half found) are
gathered once per query, then each fusion is scored by nDCG@10 against qrels.

    python bench/fusion_study.py --index DIR --queries Q.jsonl --qrels QRELS.tsv
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb import KnowledgeBase
from kb.search.evaluate import load_qrels, load_queries, mean_metrics
from kb.search.fusion import adaptive, rrf, zscores, zsum

Fusion = Callable[[np.ndarray, np.ndarray], np.ndarray]

VARIANTS: dict[str, Fusion] = {
    "dense": lambda d, lx: d,
    "lexical": lambda d, lx: lx,
    "rrf": rrf,
    **{f"zsum a={a}": functools.partial(zsum, dense_weight=a)
       for a in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)},
    **{f"adaptive p={p}": functools.partial(adaptive, dense_prior=p)
       for p in (0.3, 0.4, 0.5)},
}


def _gap(z: np.ndarray) -> float:
    """Top1 - top2 gap: the first confidence tried (lost to max z on JaQuAD)."""
    return float(np.diff(np.sort(z)[-2:])[0]) + 1e-3 if len(z) > 1 else 1.0


def _weighted(conf: Callable[[np.ndarray], float], prior: float) -> Fusion:
    def fusion(d: np.ndarray, lx: np.ndarray) -> np.ndarray:
        zd, zl = zscores(d), zscores(lx)
        wd, wl = prior * conf(zd), (1 - prior) * conf(zl)
        return (wd * zd + wl * zl) / (wd + wl + 1e-9)
    return fusion


def _top3(z: np.ndarray) -> float:
    return float(max(np.sort(z)[-3:].mean(), 1e-3)) if len(z) else 1.0


def _minmax(d: np.ndarray, lx: np.ndarray, a: float) -> np.ndarray:
    def mm(x: np.ndarray) -> np.ndarray:
        span = x.max() - x.min()
        return (x - x.min()) / span if span > 0 else np.zeros_like(x)
    return a * mm(d) + (1 - a) * mm(lx)


VARIANTS.update({f"gap p={p}": _weighted(_gap, p) for p in (0.3, 0.4, 0.5)})
VARIANTS.update({f"top3 p={p}": _weighted(_top3, p) for p in (0.3, 0.4, 0.5)})
VARIANTS.update({f"minmax a={a}": functools.partial(_minmax, a=a)
                 for a in (0.3, 0.5)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--qrels", required=True)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    qrels = load_qrels(args.qrels)
    queries = [q for q in load_queries(args.queries) if q.id in qrels][: args.limit]
    kb = KnowledgeBase.open(args.index, create=False)
    pools = kb.candidate_pools([q.text for q in queries])
    print(f"{len(queries)} queries, {kb.stats().cases} cases, model {kb.embedder.name}")
    for name, fusion in VARIANTS.items():
        runs = {}
        for q, (ids, d, lx) in zip(queries, pools, strict=True):
            order = np.argsort(-fusion(d, lx), kind="stable")[:10] if ids else []
            runs[q.id] = [ids[i] for i in order]
        m = mean_metrics(runs, qrels)
        print(f"{name:<26} nDCG@10 {m['nDCG@10']:.4f}  R@1 {m['Recall@1']:.4f}  "
              f"R@10 {m['Recall@10']:.4f}  MRR@10 {m['MRR@10']:.4f}")


if __name__ == "__main__":
    main()
