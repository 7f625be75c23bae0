"""A quality reviewer's path through the Clusters page in Chromium: flags, map hover, selection."""

from __future__ import annotations

from tests.browser.conftest import screenshot


def _open(page, app_url: str) -> None:
    page.goto(f"{app_url}/clusters")
    page.get_by_text("類似クレームのクラスタ").first.wait_for()
    page.get_by_text("事例マップ").first.wait_for()


def test_reviewer_sees_flags_hovers_the_map_and_lists_a_selection(page, app_url: str) -> None:
    _open(page, app_url)
    cases = page.locator("[data-testid='stMetric']").filter(has_text="事例数").first
    cases.wait_for()
    assert "360" in cases.inner_text()
    page.get_by_text("再発防止策の後に再発していない問題").first.wait_for()
    body = page.locator("[data-testid='stMain']").first.inner_text()
    assert "増えているのに再発防止策のない問題があるクラスタ" in body and "ログイン" in body
    assert "再発防止策の後に再発していない問題" in body and "充電" in body

    chart = page.locator("[data-testid='stVegaLiteChart']").first
    points = chart.locator("g.mark-symbol path")
    points.first.wait_for()
    points.nth(10).hover()
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible")
    assert "管理番号" in tooltip.inner_text() and "C-20" in tooltip.inner_text()

    box = chart.bounding_box()
    assert box is not None
    start = (box["x"] + 0.15 * box["width"], box["y"] + 0.1 * box["height"])
    end = (box["x"] + 0.55 * box["width"], box["y"] + 0.9 * box["height"])
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()
    heading = page.get_by_text("地図で選択した事例").first
    heading.wait_for()
    count = int(heading.inner_text().split("（")[1].split()[0])
    assert 0 < count < 360
    screenshot(page, "clusters-map-selection")


def test_cluster_detail_and_english_switch(page, app_url: str) -> None:
    _open(page, app_url)
    page.get_by_text("問題ごとの再発防止策の効果").first.wait_for()
    page.get_by_text("English", exact=True).click()
    for text in ("Similar-incident clusters", "Case map (colour = cluster)",
                 "Prevention effectiveness per issue"):
        page.get_by_text(text).first.wait_for()
    assert "類似クレームのクラスタ" not in page.locator("[data-testid='stMain']").first.inner_text()
    page.locator("[data-testid='stVegaLiteChart'] g.mark-symbol path").first.wait_for()
    screenshot(page, "clusters-en")
