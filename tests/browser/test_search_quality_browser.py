"""What staff see for two telling complaints on the sample base, in the real app (issue 12)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot, search_for, wait_until

# Quality as staff see it: the default model (multilingual-e5-small) on the sample base.
pytestmark = pytest.mark.real_model(model="multilingual-e5-small")

def _case_cards(page) -> list[str]:
    """Per case card, best first: its facts line (date ・ 分類 ・ 商品 ・ … 管理番号) and its
    類似度 badge."""
    main = page.locator("[data-testid='stMain']").first
    count = main.get_by_text(re.compile(r"^類似事例 \d+ 件"))
    count.first.wait_for()
    shown = int(re.search(r"(\d+) 件", count.first.inner_text()).group(1))
    facts = main.get_by_text(re.compile(r"・ 管理番号 "))
    badges = main.get_by_text(re.compile(r"^類似度 [高中低]"))
    wait_until(lambda: facts.count() >= shown, timeout=60, what=f"{shown} case cards")
    assert facts.count() == badges.count(), "every case card shows its 類似度"
    return [f"{badges.nth(i).inner_text()} {facts.nth(i).inner_text()}"
            for i in range(facts.count())]


def test_wrong_colour_complaint_finds_wrong_item_cases_first(page) -> None:
    page.get_by_text("クレーム事例検索").first.wait_for()
    search_for(page, "注文と違う色の商品が届いた。返品したいが送料はどうなるのか")
    cards = _case_cards(page)
    screenshot(page, "search-wrong-colour")
    assert len(cards) >= 3
    top = [c for c in cards[:3] if "誤配送" in c]  # the wrong item (and colour) delivered
    assert len(top) >= 2 and "誤配送" in cards[0], [c[:80] for c in cards[:5]]
    assert "類似度" in cards[0]


def test_a_complaint_with_no_such_past_case_says_so(page) -> None:
    page.get_by_text("クレーム事例検索").first.wait_for()
    search_for(page, "電子レンジの中に虫の死骸が入っていた")
    page.get_by_text("近い過去事例は見つかりませんでした。").first.wait_for()
    page.get_by_text("参考：最も近い事例").first.wait_for()
    cards = _case_cards(page)
    screenshot(page, "search-no-close-case")
    assert 1 <= len(cards) <= 3  # the nearest few, for reference, not ten look-alikes
    assert all("類似度 低" in c for c in cards)


def test_a_delivery_complaint_is_not_flagged_as_new(page) -> None:
    page.get_by_text("クレーム事例検索").first.wait_for()
    search_for(page, "荷物が届かない")
    cards = _case_cards(page)
    assert len(cards) >= 5 and "類似度 高" in cards[0]
    assert page.get_by_text("近い過去事例は見つかりませんでした。").count() == 0
