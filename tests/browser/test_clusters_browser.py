"""A quality reviewer's path through the Clusters page in Chromium: flags, map hover, selection."""

from __future__ import annotations

import re

from tests.browser.conftest import docs_screenshot, screenshot, wait_idle


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
    page.locator("[data-testid='stVegaLiteChart'] g.mark-symbol path").first.wait_for()
    wait_idle(page)
    docs_screenshot(page, "clusters-ja")
    page.get_by_text("English", exact=True).click()
    for text in ("Similar-incident clusters", "Case map (colour = cluster)",
                 "Prevention effectiveness per issue"):
        page.get_by_text(text).first.wait_for()
    assert "類似クレームのクラスタ" not in page.locator("[data-testid='stMain']").first.inner_text()
    page.locator("[data-testid='stVegaLiteChart'] g.mark-symbol path").first.wait_for()
    wait_idle(page)
    docs_screenshot(page, "clusters-en")


FULLY_SHOWN = "e => e.scrollWidth <= e.clientWidth + 1"


def _metric(page, label: str):
    return page.locator("[data-testid='stMetric']").filter(has_text=label).first


def test_flags_tell_clusters_apart_and_show_the_rates(page, app_url: str) -> None:
    """Issue 15, item 12: not every cluster is 「対策後も再発」, and a flagged one shows its
    rate before and after the measure."""
    _open(page, app_url)
    clusters = int(_metric(page, "クラスタ数").locator("[data-testid='stMetricValue']").inner_text())
    flagged = int(_metric(page, "対策後も再発").locator("[data-testid='stMetricValue']").inner_text())
    assert clusters >= 5 and flagged < clusters / 2
    if flagged:
        warning = page.get_by_text("再発防止策の後も苦情が続いているクラスタ").first
        assert re.search(r"対策前 \d+\.\d → 対策後 \d+\.\d 件/月", warning.inner_text())


def test_labels_carry_no_model_number_fragments_or_generic_words(page, app_url: str) -> None:
    """Issue 15, item 13: 「ケトル / kt / 商品」 no more."""
    _open(page, app_url)
    legend = page.locator("[data-testid='stVegaLiteChart'] g.role-legend-label text")
    legend.first.wait_for()
    labels = legend.all_text_contents()  # SVG text: no innerText
    assert len(labels) >= 5
    words = [w.strip() for label in labels for w in label.split(" ", 1)[-1].split("/")]
    assert not [w for w in words if re.fullmatch(r"[a-z]{1,3}", w)], labels
    assert "商品" not in words, labels


def test_detail_figures_are_whole_and_the_trend_arrow_follows_the_trend(page, app_url: str) -> None:
    """Issue 15, item 14: the period is not cut, a steady trend has no arrow, the monthly
    chart's y-axis has more than a lone 0."""
    _open(page, app_url)
    page.get_by_text("クラスタの詳細").first.wait_for()
    for label in ("最初", "最後"):
        value = _metric(page, label).locator("[data-testid='stMetricValue']")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.inner_text().strip())
        assert value.evaluate(FULLY_SHOWN), f"{label} is cut off"
    select = page.locator("[data-testid='stSelectbox']").filter(has_text="クラスタを選択").first
    checked = set()
    for n in range(12):
        trend = _metric(page, "傾向")
        delta = trend.locator("[data-testid='stMetricDelta']").inner_text().strip()
        arrows = trend.locator("[data-testid^='stMetricDeltaIcon']").count()
        assert arrows == (0 if delta == "横ばい" else 1), delta
        checked.add(delta)
        if "横ばい" in checked and len(checked) > 1:
            break
        select.click()
        options = page.get_by_role("option")
        if n + 1 >= options.count():
            break
        options.nth(n + 1).click()
        wait_idle(page)
    assert "横ばい" in checked
    chart = page.locator("[data-testid='stVegaLiteChart']").nth(1)
    ticks = chart.locator("g[aria-label^='Y-axis'] g.role-axis-label text")
    ticks.first.wait_for()
    assert ticks.count() >= 2, ticks.all_text_contents()
