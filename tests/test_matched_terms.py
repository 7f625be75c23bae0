"""一致した語 explains a match: words as the staffer typed them, no noise."""

from __future__ import annotations

from ingest.records import Case
from kb import KnowledgeBase
from kb.index.analyser import typed_words


def test_typed_words_keep_the_users_spelling_and_drop_noise() -> None:
    words = typed_words("電話で3回もたらい回しにされ、商品が届いていない。色が違う")
    assert words["盥回し"] == "たらい回し"  # as typed, not the normalised form
    assert words["届く"] == "届く"  # an inflected verb shows its dictionary form, not 届い
    shown = set(words.values())
    assert "3" not in shown and "色" not in shown  # bare numbers, single characters
    assert "商品" not in shown and "ない" not in shown  # words that explain no match


def test_search_hits_show_matched_words_as_typed(kb: KnowledgeBase) -> None:
    kb.ingest_cases([Case(id="X-1", date="2024-06-01", title="窓口で盥回し",
                          content="問い合わせ窓口で盥回しにされ、3回も同じ説明をさせられた。",
                          category="接客態度")])
    hit = next(h for h in kb.search("電話で3回もたらい回しにされた", mode="lexical").hits
               if h.case.id == "X-1")
    assert "たらい回し" in hit.matched_terms
    assert "盥回し" not in hit.matched_terms
    assert all(len(t) > 1 and not t.isdigit() for t in hit.matched_terms), hit.matched_terms
    assert "content" in hit.matched_fields
