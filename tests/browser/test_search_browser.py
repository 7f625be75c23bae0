"""A staffer's path through the real app in Chromium: search, read cards, download the note."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, screenshot, search_for

pytestmark = pytest.mark.real_model  # search as staff see it: the real model on the sample base

# KB_UPDATE_DOCS=1 also refreshes the README's screenshots in docs/.
UPDATE_DOCS = os.environ.get("KB_UPDATE_DOCS") == "1"


def test_staff_search_cards_and_handover_download(page, tmp_path: Path) -> None:
    page.get_by_text("クレーム事例検索").first.wait_for()
    search_for(page, "注文した荷物が一週間たっても届かない。追跡番号も動いていない。")
    main = page.locator("section.main, [data-testid='stMain']").first
    main.get_by_text("再発防止策").first.wait_for()
    body = main.inner_text()
    assert "対応" in body and "再発防止策" in body and "原因" in body
    assert "配送遅延" in body or "誤配送" in body
    shot = screenshot(page, "search-ja")
    if UPDATE_DOCS:
        shutil.copy(shot, ROOT / "docs" / "search-ja.png")

    page.get_by_text("引き継ぎメモ（二次対応へ）").click()
    page.get_by_label("お客様の要望").fill("至急届けてほしい")
    page.get_by_label("お客様の要望").press("Enter")
    page.get_by_text("至急届けてほしい").first.wait_for()
    with page.expect_download() as info:
        page.get_by_role("button", name="Markdownでダウンロード").click()
    note = Path(info.value.path()).read_text(encoding="utf-8")
    assert note.startswith("# 引き継ぎメモ")
    assert "注文した荷物が一週間たっても届かない" in note and "至急届けてほしい" in note
    assert "## 類似する過去事例" in note and "**対応**" in note


def test_english_switch(page) -> None:
    page.get_by_text("クレーム事例検索").first.wait_for()
    page.get_by_text("English", exact=True).click()
    page.get_by_text("Complaint case search").first.wait_for()
    search_for(page, "My package has not arrived and the tracking has not moved for a week.",
            empty="Type the complaint above to search.", card_heading="Complaint")
    main = page.locator("[data-testid='stMain']").first
    main.get_by_text("Prevention").first.wait_for()
    body = main.inner_text()
    assert "Cause" in body and "Response" in body
    assert "再発防止策" not in body and "原因" not in body
    shot = screenshot(page, "search-en")
    if UPDATE_DOCS:
        shutil.copy(shot, ROOT / "docs" / "search-en.png")
