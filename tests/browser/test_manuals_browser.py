"""A knowledge manager uploads a PDF manual; a staffer then finds its passage while searching."""

from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import screenshot, search_for
from tests.pdfgen import write_pdf


def test_upload_pdf_then_find_its_passage_on_the_search_page(page, app_url: str,
                                                              tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "returns_manual.pdf", [
        ["返品・交換対応マニュアル", "第1条 返品の受付期限",
         "商品到着後八日以内の返品は、未使用品に限り送料当社負担で受け付ける。"],
        ["第2条 初期不良の交換", "初期不良の場合は、到着後三十日以内であれば新品と交換する。",
         "交換品の発送は申し出の翌営業日までに行う。"],
    ], title="返品・交換対応マニュアル")
    page.goto(f"{app_url}/manuals")
    page.get_by_text("マニュアル管理").first.wait_for()
    page.locator("input[type=file]").first.set_input_files(str(pdf))
    page.get_by_role("button", name="登録する").click()
    page.get_by_text("returns_manual.pdf：新規登録").wait_for()
    page.get_by_text("登録済みマニュアル").wait_for()
    screenshot(page, "manuals-ja")

    page.goto(app_url)
    search_for(page, "初期不良の商品を交換してほしいと言われた")
    page.get_by_text("関連するマニュアル").wait_for()
    main = page.locator("[data-testid='stMain']").first
    main.get_by_text("p. 2").first.wait_for()
    body = main.inner_text()
    assert "返品・交換対応マニュアル" in body
    assert "到着後三十日以内であれば新品と交換する" in body
    screenshot(page, "search-with-manual-ja")
