"""The Streamlit app through streamlit.testing (real base built from the sample ledger)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_first_start_builds_the_sample_base_and_shows_an_empty_search(app: AppTest) -> None:
    assert app.title[0].value.startswith("クレーム事例検索")
    assert app.text_area(key="query").value == ""
    assert "クレーム内容" not in _markdown(app)  # no result cards yet
    categories = app.sidebar.multiselect(key="f_category").options
    assert "配送遅延" in categories


def test_search_shows_delivery_cases_with_their_resolution(app: AppTest) -> None:
    app.text_area(key="query").input("荷物が届かない").run()
    assert not app.exception
    text = _markdown(app)
    assert "原因 Cause" in text and "対応 Response" in text and "再発防止策 Prevention" in text
    cards = [m.value for m in app.markdown if m.value.startswith("**1.")]
    assert cards and ("配送遅延" in cards[0] or "誤配送" in cards[0])


def test_filter_escalated_only_warns_and_marks_cases(app: AppTest) -> None:
    app.sidebar.checkbox(key="f_escalated").check()
    app.text_area(key="query").input("電話をたらい回しにされた").run()
    assert not app.exception
    assert app.warning and "二次クレーム" in app.warning[0].value
    cards = [m.value for m in app.markdown if m.value.startswith("**")]
    assert cards and all("二次クレーム" in c for c in cards if c[2].isdigit())


def test_no_results_message(app: AppTest) -> None:
    app.sidebar.multiselect(key="f_product").select("通販サイト")
    app.sidebar.multiselect(key="f_channel").select("店頭")
    app.sidebar.selectbox(key="mode").select("lexical")
    app.text_area(key="query").input("宇宙旅行").run()
    assert not app.exception
    assert app.info and "No similar past cases" in app.info[0].value


def test_ledger_text_is_shown_as_text_not_markup(app: AppTest) -> None:
    # Another process (here: another KnowledgeBase) adds a case whose text looks like markup;
    # the running app picks it up and shows it escaped.
    from ingest.records import Case
    from kb import KnowledgeBase

    with KnowledgeBase.open() as other:
        other.ingest_cases([Case(id="X-1", title="<b>太字</b>",
                                 content="**至急** 返金して [link](http://x) $100 ギシギシ",
                                 date="2025-09-01")])
    app.sidebar.selectbox(key="mode").select("lexical")
    app.text_area(key="query").input("ギシギシ 至急 返金").run()
    assert not app.exception
    card = next(m.value for m in app.markdown if "ID X\\-1" in m.value)
    assert "\\<b\\>" in card  # the tag is escaped, not rendered
    content = next(m.value for m in app.markdown if "至急" in m.value and "ID X" not in m.value)
    assert "\\*\\*至急\\*\\*" in content and "\\[link\\]" in content and "\\$100" in content
