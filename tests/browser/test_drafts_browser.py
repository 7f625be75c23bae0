"""A record-form draft in real Chromium (issue 16, item 1): a reload in the same browser brings
it back; the same URL opened in another browser (its own cookies) shows an empty form.
Fake model: nothing here is about search quality."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import wait_idle
from tests.browser.test_record_browser import wait_for_draft

TEXT = "会員証を忘れたら割引できないと言われた。電話 090-1234-5678"


def test_a_draft_url_opened_in_another_browser_shows_nothing(browser, page, app_url: str,
                                                             app_base: Path) -> None:
    page.goto(f"{app_url}/record")
    page.get_by_text("対応した事例を記録する").first.wait_for()
    box = page.get_by_label("クレーム内容 *", exact=True)
    box.fill(TEXT)
    box.press("Tab")
    page.wait_for_function("() => location.search.includes('draft=')")
    wait_for_draft(page, app_base, "content", TEXT.replace("090-1234-5678", "＜電話番号＞"))
    url = page.url
    page.reload()
    page.get_by_text("保存されていない下書きを復元しました。").wait_for()
    expect(page.get_by_label("クレーム内容 *", exact=True)).to_have_value(
        TEXT.replace("090-1234-5678", "＜電話番号＞"), timeout=30_000)  # stored masked

    other = browser.new_context(locale="ja-JP")  # another computer: no shared cookies
    try:
        stranger = other.new_page()
        stranger.goto(url)
        stranger.get_by_text("対応した事例を記録する").first.wait_for()
        field = stranger.get_by_label("クレーム内容 *", exact=True)
        field.wait_for()
        wait_idle(stranger)  # the script has run to the end: a draft would be drawn by now
        expect(field).to_have_value("")
        assert stranger.get_by_text("保存されていない下書きを復元しました。").count() == 0
    finally:
        other.close()
