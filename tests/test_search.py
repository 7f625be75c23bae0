"""Search modes, fusion and filters over a real base (SQLite FTS5, FAISS; the fake embedder
unless marked real_model)."""

from __future__ import annotations

import pytest

from kb import Filters, KnowledgeBase
from kb.search.fusion import FUSIONS
from kb.search.results import MODES

DELIVERY = {"配送遅延", "誤配送"}


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_finds_delivery_cases_for_a_paraphrase(kb: KnowledgeBase, mode: str) -> None:
    result = kb.search("荷物がまだ届いていません", top_k=3, mode=mode)
    assert result.mode == mode
    assert result.hits, mode
    assert result.hits[0].case.category in DELIVERY
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


@pytest.mark.real_model  # meaning without shared words: only a real model finds it
def test_dense_finds_meaning_without_shared_words(kb: KnowledgeBase) -> None:
    # No token of the query appears in the cases; only the embedding can find it.
    result = kb.search("配達が遅れている", top_k=3, mode="dense")
    assert result.hits[0].case.category in DELIVERY


def test_lexical_mode_needs_a_shared_word(kb: KnowledgeBase) -> None:
    assert kb.search("宇宙旅行", mode="lexical").hits == []
    assert kb.search("ギシギシ", mode="lexical").hits[0].case.id == "T-004"


@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_fusion_ranks_the_exact_case_first(kb: KnowledgeBase, fusion: str) -> None:
    result = kb.search("クレジットカードに二回請求されている", top_k=5, fusion=fusion)
    assert result.hits[0].case.id == "T-005"


def test_english_query_finds_the_english_case(kb: KnowledgeBase) -> None:
    result = kb.search("my package has not arrived", top_k=3)
    assert result.hits[0].case.id == "T-008"


def test_hits_carry_resolution_and_why_they_matched(kb: KnowledgeBase) -> None:
    hit = kb.search("電子レンジのドアから異音がする", top_k=1).hits[0]
    assert hit.case.id == "T-004"
    assert hit.case.cause == "ヒンジ部品の不良"
    assert hit.case.response == "新品と交換"
    assert hit.case.prevention == "部品サプライヤー変更"
    assert hit.case.escalated is True
    assert {"電子", "レンジ", "ドア", "異音"} <= set(hit.matched_terms)
    assert "content" in hit.matched_fields
    assert hit.best_chunks and "異音" in hit.best_chunks[0]
    assert hit.dense_score is not None and hit.lexical_score is not None


def test_results_are_one_entry_per_case(kb: KnowledgeBase) -> None:
    ids = [h.case.id for h in kb.search("届かない 荷物 配達 到着", top_k=8).hits]
    assert len(ids) == len(set(ids))


def test_empty_query_returns_nothing(kb: KnowledgeBase) -> None:
    assert kb.search("   ").hits == []


def test_unknown_mode_is_a_clear_error(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        kb.search("荷物", mode="fuzzy")


# Filters act inside each ranker, before the top-k cut: asking for the single best case
# under a filter must return the best *matching* case, not nothing.
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("filters", "check"),
    [
        (Filters(categories=("接客態度",)), lambda c: c.category == "接客態度"),
        (Filters(products=("通販サイト",)), lambda c: c.product == "通販サイト"),
        (Filters(channels=("SNS",)), lambda c: c.channel == "SNS"),
        (Filters(escalated=True), lambda c: c.escalated is True),
        (Filters(escalated=False), lambda c: c.escalated is False),
        (Filters(date_from="2025-01-01"), lambda c: c.date >= "2025-01-01"),
        (Filters(date_to="2024-02-03"), lambda c: c.date <= "2024-02-03"),
        (Filters(date_from="2024-03-01", date_to="2024-06-30"),
         lambda c: "2024-03-01" <= c.date <= "2024-06-30"),
    ],
)
def test_filters_apply_before_the_cut(kb: KnowledgeBase, mode: str, filters: Filters,
                                      check) -> None:
    # The query is about delivery, so unfiltered the top case would be a delivery case.
    query = "荷物が届かない 注文 商品 電話 サイト"
    result = kb.search(query, top_k=1, mode=mode, filters=filters)
    assert len(result.hits) == 1
    assert check(result.hits[0].case)


def test_filter_returns_every_matching_case_and_no_other(kb: KnowledgeBase) -> None:
    result = kb.search("商品", top_k=50, mode="dense", filters=Filters(categories=("配送遅延",)))
    assert sorted(h.case.id for h in result.hits) == ["T-001", "T-002", "T-008"]


def test_filters_combine(kb: KnowledgeBase) -> None:
    filters = Filters(categories=("配送遅延",), escalated=True)
    result = kb.search("届かない", top_k=10, mode="hybrid", filters=filters)
    assert [h.case.id for h in result.hits] == ["T-002"]


def test_filter_with_no_match_returns_nothing(kb: KnowledgeBase) -> None:
    result = kb.search("届かない", filters=Filters(products=("存在しない商品",)))
    assert result.hits == []


@pytest.mark.parametrize("mode", MODES)
def test_search_many_gives_what_each_search_gives_in_order(kb: KnowledgeBase, mode: str) -> None:
    """search_many embeds the next batch while it ranks this one: more queries than one batch
    come back in their order, each as a single search ranks it."""
    from kb.search.searcher import SEARCH_BATCH

    words = ["荷物が届かない", "二回請求されている", "ギシギシ音がする", "返品したい", "宇宙旅行"]
    queries = [f"{w} {n}" for n in range(SEARCH_BATCH // 2 + 1) for w in words]
    assert len(queries) > 2 * SEARCH_BATCH
    many = kb.search_many(queries, top_k=3, mode=mode)
    assert [r.query for r in many] == queries
    for query, result in zip(queries, many, strict=True):
        single = kb.search(query, top_k=3, mode=mode)
        assert [h.case.id for h in result.hits] == [h.case.id for h in single.hits], query
    assert kb.search_many([], mode=mode) == []
