"""The manuals page through streamlit.testing: list, open a page, delete with confirmation, stale."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb import KnowledgeBase
from tests.pdfgen import write_pdf


def _page() -> None:
    from ui import manuals
    from ui.state import knowledge_base

    manuals.render(knowledge_base())


@pytest.fixture
def base(tmp_path: Path) -> Path:
    root = tmp_path / "kb"  # conftest points KB_INDEX_DIR here
    pdf = write_pdf(tmp_path / "rules.pdf", [
        ["就業規則", "第1条 目的", "この規則は従業員の労働条件を定める。"],
        ["第2条 年次有給休暇", "六か月継続勤務した者には十日の年次有給休暇を与える。"],
    ], title="就業規則")
    with KnowledgeBase.open(root) as kb:
        kb.ingest_document(pdf)
        (tmp_path / "old.md").write_text("# 旧規程\n\n返品は七日以内。\n", encoding="utf-8")
        kb.ingest_document(tmp_path / "old.md")
        long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=900)).isoformat()
        kb.store.db.execute("UPDATE documents SET added_at = ?, updated_at = ? WHERE id = 'old.md'",
                            (long_ago, long_ago))
    return root


def test_lists_manuals_and_opens_a_page(base: Path) -> None:
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception
    listing = at.dataframe[0].value
    assert set(listing["ファイル名"]) == {"rules.pdf", "old.md"}
    assert listing.set_index("ファイル名").loc["rules.pdf", "ページ数"] == 2
    at.selectbox(key="doc_pick").select("rules.pdf").run()
    at.number_input(key="doc_page").set_value(2).run()
    assert "十日の年次有給休暇" in at.text[0].value


def test_stale_manual_is_listed_for_review(base: Path) -> None:
    at = AppTest.from_function(_page, default_timeout=60).run()
    stale = at.dataframe[1].value
    assert list(stale["ファイル名"]) == ["old.md"]
    assert "更新なし" in stale["理由"].iloc[0]


def test_delete_needs_confirmation(base: Path) -> None:
    at = AppTest.from_function(_page, default_timeout=60).run()
    at.selectbox(key="doc_pick").select("old.md").run()
    assert at.button(key="doc_delete").disabled
    at.checkbox(key="doc_delete_confirm").check().run()
    at.button(key="doc_delete").click().run()
    assert not at.exception
    assert any("old\\.md を削除しました" in s.value for s in at.success)  # shown escaped
    with KnowledgeBase.open(base) as kb:
        assert [d.id for d in kb.documents()] == ["rules.pdf"]


def _search_page() -> None:
    from ui import search
    from ui.state import knowledge_base

    search.render(knowledge_base())


def test_search_in_manuals_only(base: Path, ledger: Path) -> None:
    """Issue 15, item 20: staff can look up the manuals without any case in the way."""
    with KnowledgeBase.open(base) as kb:
        kb.ingest_ledger(ledger)
    at = AppTest.from_function(_search_page, default_timeout=60).run()
    at.sidebar.radio(key="scope").set_value("manuals").run()
    at.text_area(key="query").input("有給休暇は何日もらえますか").run()
    assert not at.exception, at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert "就業規則" in text and "六か月継続勤務した者には" in text
    assert "クレーム内容" not in text and not [b for b in at.button if b.key.startswith("fb_")]
    assert any("マニュアルの該当箇所" in c.value for c in at.caption)
    at.sidebar.radio(key="scope").set_value("all").run()
    assert [b for b in at.button if b.key.startswith("fb_")]  # cases again, with feedback
