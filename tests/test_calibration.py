"""Fusion calibration from the base's own labels, and the hybrid-vs-halves bar."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ingest import read_ledger
from kb import KnowledgeBase
from kb.search.calibration import MIN_GAIN, PRIORS, choose_prior, label_definitions
from kb.search.evaluate import mean_metrics
from kb.search.fusion import (
    MAX_DENSE_PRIOR,
    MIN_DENSE_PRIOR,
    adaptive,
    default_dense_prior,
    zscores,
)
from kb.search.results import MODES
from kb.write.sample import SAMPLE_LEDGER
from tests.conftest import HEADERS, ROWS, copy_base, write_ledger


def test_labelled_ledger_is_calibrated_on_ingest(sample_base: Path) -> None:
    with KnowledgeBase.open(sample_base) as kb:  # a copy of a base that ingested SAMPLE_LEDGER
        stats = kb.stats()
        record = json.loads(stats.fusion_calibration)
        # Every label definition the ledger supports scores the priors, not just one.
        assert record["label"].split(",") == ["category+product", "category", "product"]
        assert set(record["per_label"]) == {"category+product", "category", "product"}
        assert record["queries"] >= 100
        assert stats.fusion_dense_prior == record["dense_prior"] in PRIORS
        # The chosen prior scored best on the pseudo-queries (mean over the definitions),
        # or the default within the noise margin of the best.
        best = max(record["ndcg"].values())
        assert record["ndcg"][str(record["dense_prior"])] >= best - MIN_GAIN
        # Re-ingesting the same ledger changes nothing, so it is not re-tuned.
        kb.ingest_ledger(SAMPLE_LEDGER)
        assert json.loads(kb.stats().fusion_calibration)["at"] == record["at"]


def test_unlabelled_base_keeps_the_default_prior(tmp_path: Path) -> None:
    headers = [h for h in HEADERS if h not in ("分類", "商品")]
    keep = [i for i, h in enumerate(HEADERS) if h in headers]
    ledger = write_ledger(tmp_path / "plain.csv", [[r[i] for i in keep] for r in ROWS], headers)
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.ingest_ledger(ledger)
        stats = kb.stats()
        assert stats.fusion_dense_prior == default_dense_prior(stats.model)
        assert json.loads(stats.fusion_calibration)["dense_prior"] is None


def test_sample_ledger_calibration_never_drops_a_half(sample_base: Path) -> None:
    """The demo ledger's labels favour dense (the old calibration chose 1.0, dense only,
    and a query about a wrong colour lost its wrong-item cases): every prior tried, and
    the one chosen, keeps both halves."""
    with KnowledgeBase.open(sample_base, create=False) as kb:
        stats = kb.stats()
        hits = kb.search("注文と違う色の商品が届いた。返品したいが送料はどうなるのか",
                         top_k=10, passages=0).hits
    record = json.loads(stats.fusion_calibration)
    assert record["dense_prior"] is not None
    assert MIN_DENSE_PRIOR <= stats.fusion_dense_prior <= MAX_DENSE_PRIOR
    assert MIN_DENSE_PRIOR > 0.0 and MAX_DENSE_PRIOR < 1.0
    for curve in (record["ndcg"], *record["per_label"].values()):
        assert all(MIN_DENSE_PRIOR <= float(p) <= MAX_DENSE_PRIOR for p in curve)
    # The query from issue 12: wrong-colour / wrong-item cases (誤配送) near the top, next
    # to the return-shipping ones (返品・交換).
    categories = [h.case.category for h in hits]
    assert "誤配送" in categories[:3] and "返品・交換" in categories, categories


def test_an_old_pure_prior_is_clamped_and_both_halves_count() -> None:
    rng = np.random.default_rng(0)
    dense, lexical = rng.random(50), rng.random(50) * 10
    # A prior of 1.0 (what an old calibration stored) still lets lexical reorder.
    fused = adaptive(dense, lexical, 1.0)
    assert np.allclose(fused, adaptive(dense, lexical, MAX_DENSE_PRIOR))
    assert not np.allclose(fused, zscores(dense))
    assert np.allclose(adaptive(dense, lexical, 0.0), adaptive(dense, lexical, MIN_DENSE_PRIOR))


def test_calibration_uses_every_label_definition_and_beats_the_default_to_move() -> None:
    rows = [(f"c{i}", f"cat{i % 3}", f"prod{i % 4}", "") for i in range(60)]
    assert list(label_definitions(rows)) == ["category+product", "category", "product"]
    # category+product that groups exactly like category adds nothing: dropped.
    same = [(f"c{i}", f"cat{i % 3}", f"prod{i % 3}", "") for i in range(60)]
    assert list(label_definitions(same)) == ["category", "product"]
    assert label_definitions([(f"c{i}", "", "", "t") for i in range(60)]) == {}
    curves = {"a": {0.2: 0.50, 0.5: 0.60, 0.8: 0.70}, "b": {0.2: 0.70, 0.5: 0.66, 0.8: 0.50}}
    assert choose_prior(curves, 0.2) == (0.5, pytest.approx({0.2: 0.6, 0.5: 0.63, 0.8: 0.6}))
    # A best that beats the default by less than MIN_GAIN leaves the default.
    flat = {"a": {0.2: 0.600, 0.5: 0.6025, 0.8: 0.601}}
    assert choose_prior(flat, 0.8)[0] == 0.8


@pytest.mark.real_model(model="multilingual-e5-small")  # a ranking-quality bar, on the default model
@pytest.mark.slow  # an evaluation: recalibrates (300 pseudo-queries) and runs 3 x 60 queries
def test_hybrid_is_at_least_as_good_as_either_half_on_held_out_cases(
        sample_templates: Callable[[str], Path], tmp_path: Path) -> None:
    """Same-label past cases for held-out complaints of the demo ledger (nDCG@10)."""
    cases = read_ledger(SAMPLE_LEDGER).cases
    random.Random(3).shuffle(cases)
    held, past = cases[:60], cases[60:]
    qrels = {q.id: {c.id: 1.0 for c in past if (c.category, c.product) == (q.category, q.product)}
             for q in held}
    # The session's real sample base without the held-out cases, calibrated on the rest
    # alone: the base that ingesting `past` builds, without embedding it all again.
    template = sample_templates("multilingual-e5-small")
    with KnowledgeBase.open(copy_base(template, tmp_path / "kb")) as kb:
        assert kb.delete_cases([q.id for q in held]) == len(held)
        kb.calibrate()
        assert kb.stats().cases == len(past)
        assert {c.id for c in kb.all_cases()} == {c.id for c in past}
        held = [q for q in held if qrels[q.id]]
        ndcg = {}
        for mode in MODES:
            results = kb.search_many([q.content for q in held], top_k=10, mode=mode)
            runs = {q.id: [h.case.id for h in r.hits] for q, r in zip(held, results, strict=True)}
            ndcg[mode] = mean_metrics(runs, qrels)["nDCG@10"]
    assert ndcg["hybrid"] >= max(ndcg["dense"], ndcg["lexical"]) - 1e-9, ndcg


JAQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "jaquad_dev"


def _embed_each_query_batch_once(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hybrid and dense search_many embed the same query batches: the second gets the first's
    vectors (the same bytes the model would return again) instead of 4,000 more USE runs."""
    encode, seen = kb.embedder.encode_queries, {}

    def encode_queries(texts):
        key = tuple(texts)
        if key not in seen:
            seen[key] = encode(texts)
        return seen[key]

    monkeypatch.setattr(kb.embedder, "encode_queries", encode_queries)


@pytest.mark.real_model
@pytest.mark.slow  # embeds and queries the whole JaQuAD dev corpus
@pytest.mark.skipif(not (JAQUAD / "corpus.jsonl").exists(),
                    reason="../shared/data/jaquad_dev is absent (real data is not in the repo)")
def test_jaquad_hybrid_not_below_either_half(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The design bar on real Japanese data: hybrid holds level with the better half (within
    noise) and far above the worse one (nDCG@10)."""
    from kb.search.evaluate import load_qrels, load_queries

    with KnowledgeBase.open(tmp_path / "jaquad") as kb:
        kb.ingest_ledger(JAQUAD / "corpus.jsonl",
                         {"id": "_id", "title": "title", "content": "text"})
        _embed_each_query_batch_once(kb, monkeypatch)  # hybrid and dense embed the same batches
        qrels = load_qrels(JAQUAD / "qrels.tsv")
        queries = [q for q in load_queries(JAQUAD / "queries.jsonl") if q.id in qrels]
        ndcg = {}
        for mode in MODES:
            results = kb.search_many([q.text for q in queries], top_k=10, mode=mode)
            runs = {q.id: [h.case.id for h in r.hits] for q, r in zip(queries, results,
                                                                       strict=True)}
            ndcg[mode] = mean_metrics(runs, qrels)["nDCG@10"]
    assert ndcg["lexical"] > 0.9 and ndcg["dense"] > 0.65, ndcg
    # USE (this test's model; e5, the default, is +0.018 above lexical here but takes ~7 min to
    # embed JaQuAD) has one uncalibrated prior for two opposite unlabelled sets: 0.5 keeps it
    # within noise of the better half on both JaQuAD (-0.003, 95% CI [-0.006, +0.0005]) and
    # JSTS (-0.002), where 0.4 won JaQuAD by 0.0005 and lost JSTS by 0.011 (BENCHMARKS.md).
    assert ndcg["hybrid"] >= max(ndcg["dense"], ndcg["lexical"]) - 0.005, ndcg
    assert ndcg["hybrid"] > min(ndcg["dense"], ndcg["lexical"]) + 0.15, ndcg


def test_pseudo_queries_stay_small_on_a_large_base() -> None:
    """100k labelled cases in a dozen categories: only the 300 held-out cases get relevant
    sets. Made for every case, they held ~10^9 entries and a 100k ingest ran out of 24 GB
    in calibration; now the peak is ~200 MB, 300 sets of a label's other members."""
    import tracemalloc

    from kb.search.calibration import MAX_QUERIES, pseudo_queries

    rows = [(f"C{n:06d}", f"分類{n % 12}", f"商品{n % 40}", "") for n in range(100_000)]
    definitions = label_definitions(rows)
    assert set(definitions) == {"category+product", "category", "product"}
    tracemalloc.start()
    try:
        queries, relevant = pseudo_queries(definitions)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(queries) == MAX_QUERIES
    assert peak < 400 * 2**20, f"{peak / 2**20:.0f} MB"  # was tens of GB
    first = queries[0]  # still every other case of its label
    assert relevant["category"][first] == {r[0] for r in rows
                                           if r[1] == definitions["category"][first][0]} - {first}
