"""How close a hit really is: 類似度 high / medium / low, and "no close past case".

A fused score only orders the candidates of one query; it says nothing about whether
the best of them is the same kind of complaint. Two signals do, once calibrated:
- the cosine between the query and the hit's best chunk, per model (short queries
  against long cases score low even when they match exactly), and
- coverage: the share of the query's telling words (kb/index/analyser.typed_words) that
  the case contains; all of 「荷物」「届く」 in a case about a parcel that did not arrive.
bench/confidence_study.py measures both on dev sets nobody here wrote, for top hits that
are relevant and for top hits once every relevant case is removed from the base
(BENCHMARKS.md). A hit is close when either signal is above what answer-less queries
reach; high when either is as high as most relevant top hits. Unknown models get no
verdict (None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["high", "medium", "low"]

# "Most of the words" needs at least this many telling words; all of one word still counts.
MIN_WORDS = 2


@dataclass(frozen=True)
class Bands:
    """Thresholds of one embedding model (chosen by measurement)."""

    close: float  # cosine below: no nearer than what a base without such a case returns
    high: float  # cosine at or above: as near as most relevant top hits
    passage: float  # a manual passage below this cosine is not shown
    coverage_close: float = 0.8  # share of telling words: "close" from the words alone
    coverage_high: float = 1.0

    def words_level(self, coverage: float | None, words: int) -> Level:
        """What the telling words alone say: all of them found, or most of several."""
        if coverage is None or words == 0:
            return "low"
        if coverage >= self.coverage_high:
            return "high"
        return "medium" if words >= MIN_WORDS and coverage >= self.coverage_close else "low"

    def level(self, cosine: float, coverage: float | None = None, words: int = 0) -> Level:
        by_words = self.words_level(coverage, words)
        if cosine >= self.high or by_words == "high":
            return "high"
        return "medium" if cosine >= self.close or by_words == "medium" else "low"

    def confidence(self, cosine: float, coverage: float | None = None, words: int = 0) -> float:
        """0..1: the cosine scaled from what answer-less queries get (0) to what relevant
        hits reach (1), or the coverage when the words say more."""
        floor = self.close - (self.high - self.close)
        dense = min(1.0, max(0.0, (cosine - floor) / (self.high - floor)))
        return max(dense, coverage or 0.0) if words else dense


# Measured (BENCHMARKS.md, "No close past case"): answers present vs removed.
MODEL_BANDS: dict[str, Bands] = {
    "use-multilingual-v3": Bands(close=0.60, high=0.75, passage=0.45),
    "multilingual-e5-small": Bands(close=0.875, high=0.90, passage=0.86),
}


def bands_for(model: str) -> Bands | None:
    return MODEL_BANDS.get(model)
