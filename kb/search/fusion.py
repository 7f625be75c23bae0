"""Fuse dense and lexical scores of the same candidate cases into one ranking.

Inputs are raw scores for every candidate from both rankers (cosine; -BM25,
0 where no query term occurs). Plain RRF throws the score gaps away, and on
lexical-friendly queries it lost to BM25 alone (DESIGN.md); normalised score
sums keep the gaps. `adaptive` also weighs each ranker per query by how
clearly its best candidate stands out from the rest, on top of a per-base
prior that is never 0 or 1 (BENCHMARKS.md compares).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class Fusion(StrEnum):
    """How the dense and lexical halves are combined (BENCHMARKS.md compares them)."""

    ADAPTIVE = "adaptive"
    ZSUM = "zsum"
    RRF = "rrf"


FUSIONS = tuple(f.value for f in Fusion)
DEFAULT_FUSION = "adaptive"
# Prior weight of the dense half in `adaptive` when the base has no usable labels to
# calibrate it from (kb/search/calibration.py). It depends on the embedder: measured on
# the two unlabelled dev sets that pull opposite ways (JaQuAD lexical-friendly, JSTS
# paraphrases dense-friendly; BENCHMARKS.md, "Search quality: models x fusions x dev
# sets"), multilingual-e5-small (the default model, and any other) earns 0.7, USE 0.5.
DEFAULT_DENSE_PRIOR = 0.7
MODEL_DENSE_PRIORS = {"use-multilingual-v3": 0.5}
# `adaptive` never drops a half: a prior outside [0.2, 0.8] (an old calibration's 0.0 or
# 1.0) is clamped into it.
MIN_DENSE_PRIOR, MAX_DENSE_PRIOR = 0.2, 0.8


def default_dense_prior(model: str | None) -> float:
    """The uncalibrated prior for a base built with `model`."""
    return MODEL_DENSE_PRIORS.get(model or "", DEFAULT_DENSE_PRIOR)


def clamp_prior(dense_prior: float) -> float:
    """Into [MIN_DENSE_PRIOR, MAX_DENSE_PRIOR]: neither half is ever dropped."""
    return min(max(float(dense_prior), MIN_DENSE_PRIOR), MAX_DENSE_PRIOR)


def zscores(scores: np.ndarray) -> np.ndarray:
    """Standardise one ranker's scores over the candidate set (all zero if flat)."""
    std = float(scores.std())
    if len(scores) < 2 or std < 1e-9:
        return np.zeros_like(scores, dtype=np.float64)
    return (scores - scores.mean()) / std


def rrf(dense: np.ndarray, lexical: np.ndarray, k: float = 60.0) -> np.ndarray:
    """Reciprocal rank fusion, equal weights; a lexical score of 0 means not retrieved."""
    def reciprocal(scores: np.ndarray, present: np.ndarray) -> np.ndarray:
        ranks = np.empty(len(scores))
        ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
        return np.where(present, 1.0 / (k + ranks), 0.0)

    return reciprocal(dense, np.ones(len(dense), bool)) + reciprocal(lexical, lexical > 0)


def zsum(dense: np.ndarray, lexical: np.ndarray, dense_weight: float = 0.5) -> np.ndarray:
    """Weighted sum of z-scores."""
    return dense_weight * zscores(dense) + (1.0 - dense_weight) * zscores(lexical)


def confidence(z: np.ndarray) -> float:
    """How far a ranker's best candidate stands above the candidate pool, in std devs.

    (Measured against the top1-top2 gap, which did worse on JaQuAD: BENCHMARKS.md.)
    """
    return float(max(z.max(), 1e-3)) if len(z) else 1.0


def adaptive(dense: np.ndarray, lexical: np.ndarray,
             dense_prior: float = DEFAULT_DENSE_PRIOR) -> np.ndarray:
    """z-score sum weighted per query by each ranker's confidence in its top answer.

    `dense_prior` (calibration picks it per base) is clamped to [0.2, 0.8]: neither half
    is ever dropped.
    """
    dense_prior = clamp_prior(dense_prior)
    zd, zl = zscores(dense), zscores(lexical)
    if not np.any(lexical > 0):
        return zd
    wd = dense_prior * confidence(zd)
    wl = (1.0 - dense_prior) * confidence(zl)
    return (wd * zd + wl * zl) / (wd + wl)


def fuse(method: str, dense: np.ndarray, lexical: np.ndarray,
         dense_prior: float = DEFAULT_DENSE_PRIOR) -> np.ndarray:
    """Dispatch by name; higher is better."""
    if method == "rrf":
        return rrf(dense, lexical)
    if method == "zsum":
        return zsum(dense, lexical)
    if method == "adaptive":
        return adaptive(dense, lexical, dense_prior)
    raise ValueError(f"unknown fusion '{method}' (choose from {', '.join(FUSIONS)})")
