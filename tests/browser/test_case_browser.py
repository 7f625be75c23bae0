"""Cases in Chromium (issue 15, items 17-18): 重要度, 担当部署 and 受付者 (masked as a name) from
the form to the card and the case page, one status vocabulary, the case page by id from the
menu, the way back to the results, and the case's change history."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import screenshot, search_for, wait_idle

COMPLAINT = "冷蔵庫の製氷機から水漏れがして、床が水浸しになった。"


def _main(page):
    return page.locator("[data-testid='stMain']").first


def test_severity_department_and_receiver_from_the_form_to_card_and_case_page(
        page, app_url: str) -> None:
    page.goto(f"{app_url}/record")
    page.get_by_text("対応した事例を記録する").first.wait_for()
    main = _main(page)
    main.get_by_text("受付日 *", exact=True).wait_for()  # one name for the date: 受付日
    assert main.get_by_text("発生日").count() == 0
    box = main.get_by_label("クレーム内容 *", exact=True)
    box.fill(COMPLAINT)
    box.press("Tab")
    department = main.get_by_label("担当部署", exact=True)
    department.fill("品質保証部")
    department.press("Tab")
    wait_idle(page)
    receiver = main.get_by_label("受付者", exact=True)
    receiver.fill("佐藤花子")  # an employee's name: stored masked, like the ledgers' 担当者
    receiver.press("Tab")
    wait_idle(page)
    main.get_by_label("重要度", exact=True).click()
    page.get_by_role("option", name="高", exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="保存して検索できるようにする").click()
    saved = page.get_by_text(re.compile("を保存しました")).first
    saved.wait_for()
    case_id = re.search(r"事例 (\S+) を保存しました", saved.inner_text()).group(1)
    page.get_by_role("link", name="記録した事例を開く").click()
    page.wait_for_url(f"**/case?id={case_id}")
    _main(page).get_by_text("重要度 高").first.wait_for()
    facts = _main(page).inner_text()
    assert "担当部署 品質保証部" in facts and "受付者 ＜氏名＞" in facts and "対応中" in facts
    assert "佐藤花子" not in facts

    page.goto(f"{app_url}/search")
    search_for(page, COMPLAINT)
    card = _main(page).get_by_text(f"管理番号 {case_id}").first
    card.wait_for()
    facts = card.inner_text()
    assert "重要度 高" in facts and "担当部署 品質保証部" in facts and "受付者 ＜氏名＞" in facts


def test_ledger_statuses_read_in_the_apps_vocabulary(page, app_url: str) -> None:
    page.goto(f"{app_url}/case?id=C-2023-0001")  # 完了 in the sample ledger
    page.get_by_text("ケトルの配送遅延").first.wait_for()
    wait_idle(page)
    facts = _main(page).inner_text()
    assert "対応済" in facts and "完了" not in facts.split("クレーム内容")[0]


def test_case_page_from_the_menu_back_to_results_and_its_history(page, app_url: str) -> None:
    search_for(page, "荷物が届かない")
    wait_idle(page)  # every card drawn: under load the first link was read mid-run
    first_id = re.search(r"管理番号 (C-\S+)", _main(page).inner_text()).group(1)
    opener = _main(page).locator(f"a[href*='case?id={first_id}']").first
    expect(opener).to_have_text(re.compile("詳細・編集"))  # the first card's own link
    opener.click()
    page.wait_for_url(f"**/case?id={first_id}")
    page.get_by_text("変更履歴").wait_for()
    page.get_by_text("この事例の変更は記録されていません").wait_for()

    page.get_by_text("編集する").click()
    box = _main(page).get_by_label("再発防止策", exact=True)
    box.fill("出荷前に追跡番号の登録を二重確認する")
    box.press("Tab")
    wait_idle(page)
    page.get_by_role("button", name="変更を保存").click()
    page.get_by_text("変更を保存しました").wait_for()
    history = _main(page).locator("[data-testid='stTable']")
    history.wait_for()
    expect(history).to_contain_text("事例の記録・編集")
    expect(history).to_contain_text("再発防止策")
    expect(history).to_contain_text("staff (app)")
    expect(history).to_contain_text("JST")
    screenshot(page, "case-history-ja")

    page.get_by_role("link", name=re.compile("検索結果に戻る")).click()
    page.wait_for_url("**/search")
    page.get_by_text(f"管理番号 {first_id}").first.wait_for()  # the same search, shown again
    expect(page.get_by_role("textbox").first).to_have_value("荷物が届かない")

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="事例を開く").click()
    box = page.get_by_label(re.compile("管理番号を入力してください"))
    box.fill("C-2023-0002")
    box.press("Enter")
    page.wait_for_url("**/case?id=C-2023-0002")
    page.get_by_text("返品送料の負担").first.wait_for()
