"""The Clusters page through streamlit.testing, on a copy of the session's sample base."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import copy_base


@pytest.fixture(scope="module")
def sample_dir(sample_base_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_base(sample_base_template, tmp_path_factory.mktemp("clusters_app") / "kb")


def _page() -> None:
    """The script AppTest runs: the Clusters page on the base in KB_INDEX_DIR."""
    from ui import clusters
    from ui.state import knowledge_base

    clusters.render(knowledge_base())


@pytest.fixture
def app(sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("KB_INDEX_DIR", str(sample_dir))
    at = AppTest.from_function(_page, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _frame(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_page_shows_clusters_and_the_planted_flags(app: AppTest) -> None:
    assert app.title[0].value == "類似クレームのクラスタ"
    metrics = _metrics(app)
    assert metrics["事例数"] == "360"
    assert int(metrics["クラスタ数"]) >= 5
    assert int(metrics["増加・対策なし"]) >= 1
    assert any("ログイン" in e.value for e in app.error)  # growing, no measure
    assert any("充電" in s.value for s in app.success)  # the WE-5 measure that worked
    table = _frame(app, "ラベル（キーワード）")
    assert len(table) == int(metrics["クラスタ数"])
    assert table["件数"].sum() == 360
    assert set(table.columns) >= {"月別件数", "傾向", "二次クレーム率", "主な商品", "主な分類", "注意"}


def test_choosing_a_cluster_shows_its_measures_and_issues(app: AppTest) -> None:
    table = _frame(app, "ラベル（キーワード）")
    kettle = int(table[table["ラベル（キーワード）"].str.contains("ケトル")].iloc[0]["No."])
    app.selectbox(key="cl_pick").select(kettle).run()
    assert not app.exception
    measures = _frame(app, "対策の事例")
    assert measures["再発防止策"].str.contains("バーコード検品").any()
    issues = _frame(app, "再発防止策の効果")
    # Complaints still come after the measures here; the rates say whether more often.
    assert issues["再発防止策の効果"].isin(["再発継続", "対策後も発生（増加なし）"]).any()
    assert {"対策前（件/月）", "対策後（件/月）"} <= set(issues.columns)
    cases = _frame(app, "外れ値")
    assert "case?id=C-2024-0027" in set(cases["管理番号"])  # each id links to its case page
    assert any("\\-" in m.value for m in app.markdown if "C\\-" in m.value)  # ids shown escaped


def test_filters_recluster_the_selection(app: AppTest) -> None:
    last = len(_frame(app, "ラベル（キーワード）"))
    app.selectbox(key="cl_pick").select(last).run()  # a cluster the narrower selection lacks
    app.sidebar.multiselect(key="cl_product").select("通販サイト").run()
    assert not app.exception
    assert _metrics(app)["事例数"] == "52"
    table = _frame(app, "ラベル（キーワード）")
    assert table["主な商品"].str.startswith("通販サイト").all()
    app.sidebar.number_input(key="cl_k").set_value(3).run()
    assert not app.exception
    assert _metrics(app)["クラスタ数"] == "3"


def test_outliers_and_downloads_are_offered(app: AppTest) -> None:
    headers = [s.value for s in app.subheader]
    assert "どのクラスタにも近くない事例（外れ値）" in headers and "ダウンロード" in headers


def test_english_switch(app: AppTest) -> None:
    app.session_state["lang"] = "en"
    app.run()
    assert not app.exception
    assert app.title[0].value == "Similar-incident clusters"
    assert _metrics(app)["Cases"] == "360"
    assert "Label (keywords)" in _frame(app, "Label (keywords)").columns


def test_every_label_is_translated() -> None:
    from ui.clusters import TEXT

    assert "nav" in TEXT
    for key, (ja, en) in TEXT.items():
        assert ja.strip() and en.strip(), key
        assert ja != en or key in {"dl_json", "col_cluster"}, key
