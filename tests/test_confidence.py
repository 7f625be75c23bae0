"""類似度 and "no close past case": thresholds per model, words that prove a match."""

from __future__ import annotations

from ingest.records import Case
from kb.search.confidence import MODEL_BANDS, Bands, bands_for
from kb.search.results import CaseHit, SearchResult
from kb.search.searcher import annotate

BANDS = Bands(close=0.6, high=0.75, passage=0.45)


def test_levels_follow_the_cosine_thresholds() -> None:
    assert BANDS.level(0.80) == "high"
    assert BANDS.level(0.65) == "medium"
    assert BANDS.level(0.50) == "low"
    assert BANDS.confidence(0.75) == 1.0 and BANDS.confidence(0.40) == 0.0
    assert 0.0 < BANDS.confidence(0.60) < 1.0


def test_all_telling_words_found_make_a_short_query_close() -> None:
    # 「荷物が届かない」 against a long case: a low cosine, but both telling words are there.
    assert BANDS.level(0.30, coverage=1.0, words=2) == "high"
    assert BANDS.level(0.30, coverage=0.8, words=5) == "medium"
    assert BANDS.level(0.30, coverage=0.75, words=4) == "low"  # 3 of 4 words: not enough
    assert BANDS.level(0.30, coverage=0.5, words=4) == "low"  # 電子レンジ but no 虫 or 死骸
    assert BANDS.level(0.30, coverage=0.5, words=1) == "low"
    assert BANDS.level(0.30, coverage=None, words=0) == "low"


def test_every_bundled_model_has_thresholds_and_unknown_models_none() -> None:
    assert {"use-multilingual-v3", "multilingual-e5-small"} <= set(MODEL_BANDS)
    for bands in MODEL_BANDS.values():
        assert bands.close < bands.high
    assert bands_for("some/unknown-model") is None


def _result(*scores: float) -> SearchResult:
    hits = [CaseHit(case=Case(id=f"C{n}", content="x"), score=1.0, dense_score=s, coverage=0.0)
            for n, s in enumerate(scores)]
    return SearchResult("電子レンジの中に虫の死骸が入っていた", "hybrid", hits, 1.0)


def test_a_result_says_no_close_case_only_when_its_best_hit_is_low() -> None:
    assert annotate(_result(0.5, 0.4), BANDS).no_close_case
    close = annotate(_result(0.7, 0.4), BANDS)
    assert not close.no_close_case and [h.level for h in close.hits] == ["medium", "low"]
    assert not annotate(_result(0.5), None).no_close_case  # unknown model: no verdict
    assert not SearchResult("q", "hybrid", [], 1.0).no_close_case
