"""Compare fusion methods and fusion calibrations on one knowledge base, on the same pools.

Candidates (dense and lexical scores of every case either half found) are gathered once
per judged query (bench/pools.py caches them), then every fusion is scored on the same
candidates against the qrels: nDCG@10, Recall@1/10, MRR@10, on all queries and on the
queries where the halves disagree (dense and lexical alone get different nDCG@10), and
the gain over the better half with a 95% paired bootstrap interval (in --json).

Calibrations (kb/search/calibration.py) are compared the same way: each picks a dense
prior for the base from its own held-out cases (pseudo-queries, cached beside the base),
and that prior is scored on the judged queries.

    python bench/fusion_study.py --index DIR --queries Q.jsonl --qrels QRELS.tsv \
        [--pools DIR.pools.pkl] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pools import candidate_pools, cases_key

from kb import KnowledgeBase
from kb.search import calibration as cal
from kb.search.evaluate import load_qrels, load_queries, metrics_for
from kb.search.fusion import adaptive, default_dense_prior, rrf, zscores, zsum

Fusion = Callable[[np.ndarray, np.ndarray], np.ndarray]
LEGACY_PRIORS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
LEGACY_DEFAULT = 0.4  # the uncalibrated prior before issue 12


def _free(d: np.ndarray, lx: np.ndarray, prior: float) -> np.ndarray:
    """`adaptive` without the [0.2, 0.8] clamp (the fusion before issue 12)."""
    if prior >= 1.0 or not np.any(lx > 0):
        return zscores(d)
    if prior <= 0.0:
        return zscores(lx)
    zd, zl = zscores(d), zscores(lx)
    wd, wl = prior * max(zd.max(), 1e-3), (1 - prior) * max(zl.max(), 1e-3)
    return (wd * zd + wl * zl) / (wd + wl)


def _weighted(conf: Callable[[np.ndarray], float], prior: float) -> Fusion:
    def fusion(d: np.ndarray, lx: np.ndarray) -> np.ndarray:
        zd, zl = zscores(d), zscores(lx)
        wd, wl = prior * conf(zd), (1 - prior) * conf(zl)
        return (wd * zd + wl * zl) / (wd + wl + 1e-9)
    return fusion


def _gap(z: np.ndarray) -> float:
    """Top1 - top2 gap: the first confidence tried (lost to max z on JaQuAD)."""
    return float(np.diff(np.sort(z)[-2:])[0]) + 1e-3 if len(z) > 1 else 1.0


def _inverse(z: np.ndarray) -> float:
    """1 / max z: trust the flatter ranker more (the opposite hypothesis)."""
    return 1.0 / float(max(z.max(), 1e-3)) if len(z) else 1.0


def _clipped(prior: float, clip: float = 3.0) -> Fusion:
    """adaptive with the lexical z-scores clipped: BM25's heavy tail cannot dominate."""
    def fusion(d: np.ndarray, lx: np.ndarray) -> np.ndarray:
        if not np.any(lx > 0):
            return zscores(d)
        zd, zl = zscores(d), np.minimum(zscores(lx), clip)
        wd, wl = prior * max(zd.max(), 1e-3), (1 - prior) * max(zl.max(), 1e-3)
        return (wd * zd + wl * zl) / (wd + wl)
    return fusion


def _normalised(norm: Callable[[np.ndarray], np.ndarray], prior: float) -> Fusion:
    """adaptive's weighting over another normalisation of both halves."""
    def fusion(d: np.ndarray, lx: np.ndarray) -> np.ndarray:
        if not np.any(lx > 0):
            return zscores(d)
        zd, zl = norm(d), norm(lx)
        wd, wl = prior * max(zd.max(), 1e-3), (1 - prior) * max(zl.max(), 1e-3)
        return (wd * zd + wl * zl) / (wd + wl)
    return fusion


def _robust(x: np.ndarray) -> np.ndarray:
    """(x - median) / MAD: the pool's outliers do not set the scale."""
    mad = float(np.median(np.abs(x - np.median(x)))) * 1.4826
    return (x - np.median(x)) / mad if mad > 1e-9 else np.zeros_like(x)


def _top20(x: np.ndarray) -> np.ndarray:
    """z-scores against the 20 best of the pool only."""
    top = np.sort(x)[-20:]
    return (x - top.mean()) / top.std() if top.std() > 1e-9 else np.zeros_like(x)


def _weighted_rrf(d: np.ndarray, lx: np.ndarray, k: float = 5.0, a: float = 0.5
                  ) -> np.ndarray:
    def reciprocal(x: np.ndarray, present: np.ndarray) -> np.ndarray:
        ranks = np.empty(len(x))
        ranks[np.argsort(-x, kind="stable")] = np.arange(1, len(x) + 1)
        return np.where(present, 1.0 / (k + ranks), 0.0)
    return a * reciprocal(d, np.ones(len(d), bool)) + (1 - a) * reciprocal(lx, lx > 0)


def _minmax(d: np.ndarray, lx: np.ndarray, a: float) -> np.ndarray:
    def mm(x: np.ndarray) -> np.ndarray:
        span = x.max() - x.min()
        return (x - x.min()) / span if span > 0 else np.zeros_like(x)
    return a * mm(d) + (1 - a) * mm(lx)


VARIANTS: dict[str, Fusion] = {
    "dense": lambda d, lx: d,
    "lexical": lambda d, lx: lx,
    "rrf": rrf,
    **{f"zsum a={a}": functools.partial(zsum, dense_weight=a) for a in (0.3, 0.5, 0.7, 0.8)},
    **{f"adaptive p={p}": functools.partial(adaptive, dense_prior=p)
       for p in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)},
    "gap p=0.5": _weighted(_gap, 0.5),
    "max z squared p=0.5": _weighted(lambda z: float(max(z.max(), 1e-3)) ** 2, 0.5),
    "top1-10th p=0.5": _weighted(lambda z: float(np.sort(z)[-1] - np.sort(z)[-10])
                                 if len(z) >= 10 else 1.0, 0.5),
    "inverse-conf p=0.5": _weighted(_inverse, 0.5),
    "clipped-lex p=0.5": _clipped(0.5),
    "log BM25 p=0.5": lambda d, lx: adaptive(d, np.log1p(lx), 0.5),
    "robust z (median/MAD) p=0.5": _normalised(_robust, 0.5),
    "top-20 z p=0.5": _normalised(_top20, 0.5),
    "rrf k=5": _weighted_rrf,
    "minmax a=0.5": functools.partial(_minmax, a=0.5),
}


def calibration_pools(kb: KnowledgeBase, cache: Path | None
                      ) -> tuple[list[str], dict[str, dict[str, set[str]]], list] | None:
    """Pseudo-queries of the base (every label definition, titles included) and their
    pools, cached: the calibrations below differ only in how they use them."""
    if cache is not None and cache.exists():
        with cache.open("rb") as handle:
            saved = pickle.load(handle)
        if saved["state"] == cases_key(kb):
            return saved["value"]
    definitions = cal.label_definitions(kb.store.labels(), titles=True)
    value = None
    if definitions:
        queries, relevant = cal.pseudo_queries(definitions)
        kb.indexes.sync()
        pools = cal.pseudo_pools(kb.store, kb.indexes.case_vectors, kb.indexes.lexical(),
                                 kb.embedder, queries)
        value = (queries, relevant, pools)
    if cache is not None:
        with cache.open("wb") as handle:
            pickle.dump({"state": cases_key(kb), "value": value}, handle)
    return value


def _legacy(curves: dict[str, dict[float, float]]) -> float:
    """The rule before issue 12: the first definition only, priors 0-1, a blend only if it
    beats the better pure half by 0.005."""
    first = next(n for n in ("category+product", "category", "product") if n in curves)
    mean = curves[first]
    pure = max((0.0, 1.0), key=mean.__getitem__)
    blend = max(LEGACY_PRIORS[1:-1], key=lambda p: (round(mean[p], 4), -abs(p - 0.4)))
    return blend if mean[blend] >= mean[pure] + cal.MIN_GAIN else pure


def calibrated_priors(found: tuple | None, default: float) -> dict[str, float]:
    """The dense prior each calibration rule picks for this base (its default without
    usable labels: 0.4 before issue 12, the model's default after)."""
    names = ("legacy (before)", "legacy, clamped 0.2-0.8", "category+product only",
             "category only", "product only", "all labels (shipped)", "all labels + titles")
    out = dict.fromkeys(names, default) | {"legacy (before)": LEGACY_DEFAULT}
    if found is None:
        return out
    queries, relevant, pools = found
    curves = cal.prior_curves(pools, queries, relevant, LEGACY_PRIORS, _free)
    clamp = {n: {p: v for p, v in c.items() if 0.2 <= p <= 0.8} for n, c in curves.items()}
    labelled = [n for n in ("category+product", "category", "product") if n in curves]
    if labelled:
        out["legacy (before)"] = _legacy(curves)
        out["legacy, clamped 0.2-0.8"] = cal.choose_prior({labelled[0]: clamp[labelled[0]]},
                                                          LEGACY_DEFAULT)[0]
        out["all labels (shipped)"] = cal.choose_prior({n: clamp[n] for n in labelled},
                                                       default)[0]
    for name in ("category+product", "category", "product"):
        if name in clamp:
            out[f"{name} only"] = cal.choose_prior({name: clamp[name]}, default)[0]
    out["all labels + titles"] = cal.choose_prior(clamp, default)[0]
    return out


def score(fusion: Fusion, queries: list, qrels: dict, pools: list) -> list[dict[str, float]]:
    out = []
    for q, (ids, d, lx) in zip(queries, pools, strict=True):
        order = np.argsort(-fusion(d, lx), kind="stable")[:10] if ids else []
        out.append(metrics_for([ids[i] for i in order], qrels[q.id]))
    return out


def summary(rows: list[dict[str, float]], mask: np.ndarray | None = None) -> dict[str, float]:
    keep = [r for r, m in zip(rows, mask if mask is not None else [True] * len(rows),
                              strict=True) if m]
    return {k: float(np.mean([r[k] for r in keep])) if keep else 0.0
            for k in ("nDCG@10", "Recall@1", "Recall@10", "MRR@10")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--qrels", required=True)
    parser.add_argument("--pools", default=None, help="cache file for the judged pools")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write every figure here")
    parser.add_argument("--no-calibration", action="store_true")
    args = parser.parse_args()
    qrels = load_qrels(args.qrels)
    queries = [q for q in load_queries(args.queries) if q.id in qrels][: args.limit]
    with KnowledgeBase.open(args.index, create=False) as kb:
        pools = candidate_pools(kb, queries, args.pools)
        stats = kb.stats()
        cache = Path(args.pools).with_suffix(".calib.pkl") if args.pools else None
        found = None if args.no_calibration else calibration_pools(kb, cache)
    print(f"{len(queries)} queries, {stats.cases} cases, model {stats.model}, "
          f"stored dense prior {stats.fusion_dense_prior}")
    variants = dict(VARIANTS)
    priors = calibrated_priors(found, default_dense_prior(stats.model))
    for name, prior in priors.items():
        variants[f"calibrated: {name} -> {prior}"] = functools.partial(_free, prior=prior)
    # What search does on this base now: adaptive at its stored (clamped) prior.
    variants[f"search as configured: adaptive p={stats.fusion_dense_prior}"] = \
        functools.partial(adaptive, dense_prior=stats.fusion_dense_prior)
    rows = {name: score(f, queries, qrels, pools) for name, f in variants.items()}
    dense = np.array([r["nDCG@10"] for r in rows["dense"]])
    lexical = np.array([r["nDCG@10"] for r in rows["lexical"]])
    disagree = np.abs(dense - lexical) > 1e-9
    print(f"halves disagree on {int(disagree.sum())} queries")
    report = {"queries": len(queries), "cases": stats.cases, "model": stats.model,
              "prior": stats.fusion_dense_prior,
              "disagree": int(disagree.sum()), "priors": priors, "fusions": {}}
    better = dense if dense.mean() >= lexical.mean() else lexical
    picks = np.random.default_rng(0).integers(0, len(better), (1000, len(better)))
    for name, r in rows.items():
        m, md = summary(r), summary(r, disagree)
        diff = np.array([x["nDCG@10"] for x in r]) - better
        boot = diff[picks].mean(axis=1)
        report["fusions"][name] = {"all": m, "disagree": md, "vs_better_half": [
            float(diff.mean()), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))]}
        print(f"{name:<44} nDCG@10 {m['nDCG@10']:.4f}  R@1 {m['Recall@1']:.4f}  "
              f"R@10 {m['Recall@10']:.4f}  MRR@10 {m['MRR@10']:.4f}  "
              f"| disagree nDCG@10 {md['nDCG@10']:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
