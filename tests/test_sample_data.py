"""The bundled demo ledger: complete, and the demo search works on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import read_ledger
from kb import Filters, KnowledgeBase
from kb.write.sample import SAMPLE_LEDGER, ensure_sample
from tests.conftest import REAL_MODEL, copy_base

pytestmark = pytest.mark.real_model  # the demo search as users see it: the real model


@pytest.fixture(scope="module")
def sample_kb(real_sample_base_template: Path, tmp_path_factory: pytest.TempPathFactory):
    """A copy of the base that `ensure_sample` built (with no rejected row) on the real model."""
    root = copy_base(real_sample_base_template, tmp_path_factory.mktemp("sample") / "kb")
    base = KnowledgeBase.open(root, model=REAL_MODEL)
    yield base
    base.close()


def test_sample_ledger_is_a_realistic_demo() -> None:
    read = read_ledger(SAMPLE_LEDGER)
    assert read.errors == []
    cases = read.cases
    assert len(cases) >= 300
    years = {c.date[:4] for c in cases if c.date}
    assert len(years) >= 3
    assert len({c.category for c in cases}) >= 8
    assert len({c.product for c in cases}) >= 6
    assert len({c.channel for c in cases}) >= 4
    assert sum(1 for c in cases if c.escalated) >= 20
    assert sum(1 for c in cases if c.prevention) >= 200
    assert sum(1 for c in cases if c.content.isascii()) >= 5  # a few English cases
    assert (Path(SAMPLE_LEDGER).parent / "README.md").read_text(encoding="utf-8").count("demo")


def test_demo_search_lists_delivery_cases_first(sample_kb: KnowledgeBase) -> None:
    hits = sample_kb.search("荷物が届かない", top_k=5).hits
    assert len(hits) == 5
    assert all(h.case.category in {"配送遅延", "誤配送"} for h in hits), [
        (h.case.id, h.case.category) for h in hits]


def test_sample_search_in_english_and_with_filters(sample_kb: KnowledgeBase) -> None:
    hits = sample_kb.search("I was charged twice", top_k=3).hits
    assert hits[0].case.category == "請求・返金"
    escalated = sample_kb.search("電話をたらい回しにされた", top_k=5,
                                 filters=Filters(escalated=True)).hits
    assert escalated and all(h.case.escalated for h in escalated)


def test_second_start_does_not_ingest_again(sample_kb: KnowledgeBase) -> None:
    assert ensure_sample(sample_kb) is None
