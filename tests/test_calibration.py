"""Fusion calibration from the base's own labels, and the hybrid-vs-halves bar."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ingest import read_ledger
from kb import KnowledgeBase
from kb.search.calibration import PRIORS
from kb.search.evaluate import mean_metrics
from kb.search.fusion import DEFAULT_DENSE_PRIOR
from kb.search.results import MODES
from kb.write.sample import SAMPLE_LEDGER
from tests.conftest import HEADERS, ROWS, copy_base, write_ledger


def test_labelled_ledger_is_calibrated_on_ingest(sample_base: Path) -> None:
    with KnowledgeBase.open(sample_base) as kb:  # a copy of a base that ingested SAMPLE_LEDGER
        stats = kb.stats()
        record = json.loads(stats.fusion_calibration)
        assert record["label"] == "category+product"
        assert record["queries"] >= 100
        assert stats.fusion_dense_prior == record["dense_prior"] in PRIORS
        # The chosen prior scored best on the pseudo-queries (up to the blend margin).
        best = max(record["ndcg"].values())
        assert record["ndcg"][str(record["dense_prior"])] >= best - 0.005
        # Re-ingesting the same ledger changes nothing, so it is not re-tuned.
        kb.ingest_ledger(SAMPLE_LEDGER)
        assert json.loads(kb.stats().fusion_calibration)["at"] == record["at"]


def test_unlabelled_base_keeps_the_default_prior(tmp_path: Path) -> None:
    headers = [h for h in HEADERS if h not in ("分類", "商品")]
    keep = [i for i, h in enumerate(HEADERS) if h in headers]
    ledger = write_ledger(tmp_path / "plain.csv", [[r[i] for i in keep] for r in ROWS], headers)
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.ingest_ledger(ledger)
        assert kb.stats().fusion_dense_prior == DEFAULT_DENSE_PRIOR
        assert json.loads(kb.stats().fusion_calibration)["dense_prior"] is None


@pytest.mark.real_model  # a ranking-quality bar: it holds for the model users search with
@pytest.mark.slow  # an evaluation: recalibrates (300 pseudo-queries) and runs 3 x 60 queries on USE
def test_hybrid_is_at_least_as_good_as_either_half_on_held_out_cases(
        real_sample_base_template: Path, tmp_path: Path) -> None:
    """Same-label past cases for held-out complaints of the demo ledger (nDCG@10)."""
    cases = read_ledger(SAMPLE_LEDGER).cases
    random.Random(3).shuffle(cases)
    held, past = cases[:60], cases[60:]
    qrels = {q.id: {c.id: 1.0 for c in past if (c.category, c.product) == (q.category, q.product)}
             for q in held}
    # The session's real sample base without the held-out cases, calibrated on the rest
    # alone: the base that ingesting `past` builds, without embedding it all again.
    with KnowledgeBase.open(copy_base(real_sample_base_template, tmp_path / "kb")) as kb:
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


@pytest.mark.real_model
@pytest.mark.slow  # embeds and queries the whole JaQuAD dev corpus
@pytest.mark.skipif(not (JAQUAD / "corpus.jsonl").exists(),
                    reason="../shared/data/jaquad_dev is absent (real data is not in the repo)")
def test_jaquad_hybrid_not_below_either_half(tmp_path: Path) -> None:
    """The design bar on real Japanese data: hybrid >= dense and >= lexical (nDCG@10)."""
    from kb.search.evaluate import load_qrels, load_queries

    with KnowledgeBase.open(tmp_path / "jaquad") as kb:
        kb.ingest_ledger(JAQUAD / "corpus.jsonl",
                         {"id": "_id", "title": "title", "content": "text"})
        qrels = load_qrels(JAQUAD / "qrels.tsv")
        queries = [q for q in load_queries(JAQUAD / "queries.jsonl") if q.id in qrels]
        ndcg = {}
        for mode in MODES:
            results = kb.search_many([q.text for q in queries], top_k=10, mode=mode)
            runs = {q.id: [h.case.id for h in r.hits] for q, r in zip(queries, results,
                                                                       strict=True)}
            ndcg[mode] = mean_metrics(runs, qrels)["nDCG@10"]
    assert ndcg["lexical"] > 0.9 and ndcg["dense"] > 0.65, ndcg
    assert ndcg["hybrid"] >= max(ndcg["dense"], ndcg["lexical"]), ndcg
