"""Every page by its own URL in Chromium, an unknown one on the search page; what the record
form says about required fields;
the app's log stays free of file-watcher noise (issue 15, items 1, 2 and 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import docs_screenshot, search_for, wait_idle

# Each page's path and a heading only that page shows, in Japanese.
PAGES = {"search": "クレーム事例検索", "record": "対応した事例を記録する",
         "clusters": "類似クレームのクラスタ", "manuals": "マニュアル管理",
         "ledgers": "台帳の取り込みと事例の管理", "admin": "管理・監査ログ",
         "case": "管理番号を入力してください"}


def _no_page_not_found(page) -> None:
    wait_idle(page)
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_role("dialog").count() == 0


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_opens_by_its_own_url(page, app_url: str, path: str) -> None:
    page.goto(f"{app_url}/{path}")
    page.get_by_text(PAGES[path]).first.wait_for()
    _no_page_not_found(page)
    assert page.url.split("?")[0].rstrip("/").endswith(f"/{path}")


def test_the_root_url_is_the_search_page_at_its_own_path(page, app_url: str) -> None:
    page.goto(app_url)
    page.get_by_text(PAGES["search"]).first.wait_for()
    page.wait_for_url("**/search")
    _no_page_not_found(page)
    # The menu marks the search page as the current one.
    current = page.locator("[data-testid='stSidebarNav'] a[aria-current='page']")
    assert "事例検索" in current.inner_text()
    page.get_by_role("link", name="事例を記録").click()
    page.get_by_text(PAGES["record"]).first.wait_for()
    page.wait_for_url("**/record*")


@pytest.mark.parametrize("path", ["nosuchpage", "home", "%E6%A4%9C%E7%B4%A2"])  # 検索, encoded
def test_an_unknown_page_path_opens_the_search_page_without_an_english_dialog(
        page, app_url: str, path: str) -> None:
    """Issue 15, item 1: a mistyped or old bookmark lands on the search, not on Streamlit's
    English "Page not found" dialog."""
    page.goto(f"{app_url}/{path}")
    page.get_by_text(PAGES["search"]).first.wait_for()
    page.wait_for_url("**/search")
    _no_page_not_found(page)
    search_for(page, "荷物が届かない")  # a working search page, not a dead end


@pytest.mark.parametrize(("language", "note"), [("日本語", "* は必須項目です。"),
                                                ("English", "* marks a required field.")])
def test_required_note_is_a_sentence_not_a_bullet(page, app_url: str, language: str,
                                                  note: str) -> None:
    page.goto(f"{app_url}/record")
    page.get_by_text(PAGES["record"]).first.wait_for()
    if language == "English":
        page.get_by_text("English", exact=True).click()
        page.get_by_text("Record a handled complaint").first.wait_for()
    caption = page.get_by_text(note, exact=True)
    caption.wait_for()
    assert caption.inner_text().strip() == note
    main = page.locator("[data-testid='stMain']").first
    assert main.locator("li", has_text=note[2:]).count() == 0


def test_app_log_has_no_file_watcher_noise(page, app_url: str, app_log: Path) -> None:
    """The app runs with .streamlit/config.toml's watcher setting (the fixture passes none)."""
    for path in ("search", "record", "clusters"):
        page.goto(f"{app_url}/{path}")
        page.get_by_text(PAGES[path]).first.wait_for()
        wait_idle(page)
    log = app_log.read_text(encoding="utf-8", errors="replace")
    assert "inotify" not in log.lower() and "watchdog" not in log.lower(), log[-2000:]
    assert "Traceback" not in log, log[-2000:]


def test_admin_page_names_actions_in_the_staffs_language(page, app_url: str) -> None:
    """Issue 15, item 6 in the browser: the audit filter offers every action by name, in
    Japanese, retire/restore included; English after the switch."""
    page.goto(f"{app_url}/admin")
    page.get_by_text(PAGES["admin"]).first.wait_for()
    page.locator("[data-testid='stDataFrame']").first.wait_for()
    wait_idle(page)
    docs_screenshot(page, "admin-ja")
    page.locator("[data-testid='stSelectbox']").filter(has_text="操作").first.click()
    options = page.get_by_role("option").all_inner_texts()
    assert {"台帳の取り込み", "事例の廃止", "事例の復元", "マニュアルの登録"} <= set(options)
    assert not [o for o in options if "_" in o]  # no raw identifiers such as ingest_ledger
    page.keyboard.press("Escape")
    page.get_by_text("English", exact=True).click()
    page.get_by_text("Admin and audit log").first.wait_for()
    wait_idle(page)
    chosen = page.locator("[data-testid='stSelectbox']").filter(has_text="Action").first
    shown = chosen.locator("input").first.input_value() if chosen.locator("input").count() \
        else chosen.text_content()
    assert shown == "All", shown
    docs_screenshot(page, "admin-en")
