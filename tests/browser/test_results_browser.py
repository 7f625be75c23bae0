"""Search results in Chromium, with manual passages beside the cases (issue 15, items 3-5):
the printable hand-over note matches the screen, both feedback labels are readable, and a
rated card stays where it was until the next search."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb import KnowledgeBase
from tests.browser.conftest import screenshot, search_for, wait_idle, wait_until

QUERY = "注文した荷物が届かない。配送状況を確認してほしい。"
MANUAL = """# 配送トラブル対応マニュアル

## 荷物が届かない場合

注文した荷物が届かないと申し出があったときは、追跡番号で配送状況を確認し、
配送業者に調査を依頼する。到着予定日をお客様に連絡する。
"""
# The label text of each button, whole; the ellipsis check reads the rendered width.
FULLY_SHOWN = ("b => [b, ...b.querySelectorAll('*')]"
               ".every(e => e.scrollWidth <= e.clientWidth + 1)")


@pytest.fixture(scope="module", autouse=True)
def _manual(app_base: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A manual in the base, so results show passages in a column beside the cases."""
    path = tmp_path_factory.mktemp("manual") / "配送マニュアル.md"
    path.write_text(MANUAL, encoding="utf-8")
    with KnowledgeBase.open(app_base, create=False) as kb:
        kb.ingest_document(path)


def _card_ids(page) -> list[str]:
    """Case ids of the result cards, in the order shown."""
    text = page.locator("[data-testid='stMain']").first.inner_text()
    return re.findall(r"管理番号 (C-\S+)", text)


def _search(page) -> None:
    search_for(page, QUERY)
    page.get_by_text("関連するマニュアル").wait_for()
    wait_idle(page)


def test_both_feedback_labels_are_whole_beside_manual_passages(page) -> None:
    _search(page)
    for label in ("役に立った", "役に立たない"):
        button = page.get_by_role("button", name=label).first
        button.wait_for()
        assert button.inner_text().strip().endswith(label)
        assert button.evaluate(FULLY_SHOWN), f"「{label}」 is cut off"
    up = page.get_by_role("button", name="役に立った").first.bounding_box()
    down = page.get_by_role("button", name="役に立たない").first.bounding_box()
    assert up and down and up["x"] + up["width"] <= down["x"]  # side by side, not overlapping
    screenshot(page, "feedback-with-manuals-ja")


def test_a_rated_card_keeps_its_place_until_the_next_search(page) -> None:
    _search(page)
    before = _card_ids(page)
    assert len(before) >= 5
    fifth = before[4]
    page.get_by_role("button", name="役に立った").nth(4).click()
    page.get_by_text("「役に立った」を記録済み").wait_for()
    wait_idle(page)
    assert _card_ids(page) == before  # nothing moved under the cursor
    page.get_by_role("button", name="検索", exact=True).click()
    # The next search applies the feedback: the rated case moves up.
    after = wait_until(lambda: (ids := _card_ids(page)) != before and fifth in ids and ids,
                       timeout=60, what="the next search to rank the rated case higher")
    assert after.index(fifth) < 4


def test_printable_note_lists_the_cases_on_screen_as_html(page) -> None:
    _search(page)
    on_screen = _card_ids(page)
    page.get_by_text("引き継ぎメモ（二次対応へ）").click()
    for label, text in (("担当者名", "山田"), ("注文番号", "ORD-2024-0001234"),
                        ("お客様の要望", "至急届けてほしい")):
        box = page.get_by_label(label, exact=True)
        box.fill(text)
        box.press("Enter")
        page.locator("[data-testid='stCode']").get_by_text(text).first.wait_for()
    wait_idle(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="印刷用（HTML）をダウンロード").click()
    printable = Path(info.value.path()).read_text(encoding="utf-8")
    body = printable.split("<body", 1)[1]
    assert re.findall(r"<h3>\d+\. .*?\((C-[^)]+)\)", body) == on_screen
    text = re.sub(r"<[^>]+>", "", body)
    assert "**" not in text and "&gt;" not in text
    assert "山田" in text and "ORD-2024-0001234" in text and "至急届けてほしい" in text
    warning = re.search(r"類似事例 (\d+) 件中 (\d+) 件が二次クレーム",
                        page.locator("[data-testid='stMain']").first.inner_text())
    note_warning = re.search(r"類似事例 (\d+) 件中 (\d+) 件が二次クレーム", text)
    assert (warning and warning.groups()) == (note_warning and note_warning.groups())
