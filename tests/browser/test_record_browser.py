"""Record a handled complaint through the form in Chromium, then find it by describing it anew."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from kb import KnowledgeBase
from tests.browser.conftest import screenshot, search_for, wait_idle, wait_until
from ui.browser_id import XSRF_COOKIE, owner_from_cookie

# The saved case is found by a paraphrase that shares almost no word with it: the real model.
pytestmark = pytest.mark.real_model

COMPLAINT = "店舗の駐車場の精算機が故障していて出庫できず、30分以上待たされた。"
PARAPHRASE = "パーキングの料金機が壊れていて車を出せなかった"


def page_owner(page) -> str | None:
    """The draft owner the app sees for this page's browser (its XSRF cookie)."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return owner_from_cookie(cookies.get(XSRF_COOKIE))


def wait_for_draft(page, app_base: Path, field: str, text: str) -> None:
    """Wait until the server autosaved this tab's draft with `text` in `field`."""
    def saved() -> bool:
        token = parse_qs(urlparse(page.url).query).get("draft", [None])[0]
        owner = page_owner(page)
        if not token or not owner:
            return False
        with KnowledgeBase.open(app_base, create=False) as kb:
            draft = kb.load_draft(token, owner=owner)
        return bool(draft) and draft.get(field) == text

    wait_until(saved, timeout=60, what=f"the draft to hold the {field} typed")


def test_record_a_case_then_find_it_in_other_words(page, app_url: str, app_base: Path) -> None:
    page.goto(f"{app_url}/record")
    page.get_by_text("対応した事例を記録する").first.wait_for()
    main = page.locator("[data-testid='stMain']").first
    fields = {"クレーム内容 *": COMPLAINT,
              "原因": "精算機の紙幣詰まりを巡回で見落としていた",
              "対応": "係員が手動で精算し、駐車料金を無料にしてお詫びした",
              "再発防止策": "開店前と昼に精算機の動作確認を行い、詰まり時の呼び出し先を掲示する"}
    for label, text in fields.items():
        box = main.get_by_label(label, exact=True)
        box.fill(text)
        box.press("Tab")  # commit the value (and the draft) as staff do by moving on
    wait_for_draft(page, app_base, "prevention", fields["再発防止策"])  # the server has them all
    wait_idle(page)
    page.get_by_role("button", name="保存して検索できるようにする").click()
    saved = page.get_by_text(re.compile("を保存しました")).first
    saved.wait_for()
    case_id = re.search(r"事例 (\S+) を保存しました", saved.inner_text()).group(1)
    # The form is ready for the next case.
    expect(main.get_by_label("クレーム内容 *", exact=True)).to_have_value("")
    wait_idle(page)
    screenshot(page, "record-saved-ja")

    page.get_by_role("link", name="事例検索").click()
    search_for(page, PARAPHRASE)
    main = page.locator("[data-testid='stMain']").first
    main.get_by_text(f"1. {case_id}", exact=True).wait_for()  # the first card is the new case
    body = main.inner_text()
    assert body.index("手動で精算") < body.index("2. ")  # with how it was handled
    screenshot(page, "record-found-ja")


def test_a_draft_survives_a_browser_reload(page, app_url: str, app_base: Path) -> None:
    page.goto(f"{app_url}/record")
    page.get_by_text("対応した事例を記録する").first.wait_for()
    box = page.get_by_label("クレーム内容 *", exact=True)
    text = "会員証を忘れたら割引できないと言われ、納得できない"
    box.fill(text)
    box.press("Tab")
    page.wait_for_function("() => location.search.includes('draft=')")
    wait_for_draft(page, app_base, "content", text)  # the autosave runs on the server
    page.reload()
    page.get_by_text("保存されていない下書きを復元しました。").wait_for()
    expect(page.get_by_label("クレーム内容 *", exact=True)).to_have_value(text, timeout=30_000)
