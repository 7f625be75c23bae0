"""Recording and editing cases in the app (streamlit.testing, real knowledge base)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb import KnowledgeBase

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _record_page() -> None:
    from ui import record
    from ui.state import knowledge_base

    record.render(knowledge_base())


def _case_page() -> None:
    from ui import case
    from ui.state import knowledge_base

    case.render(knowledge_base())


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def _count(root: Path) -> int:
    with KnowledgeBase.open(root) as kb:
        return kb.stats().cases


@pytest.mark.real_model  # found "in other words": a paraphrase, so the real model
def test_search_prefills_the_form_and_the_saved_case_is_found_in_other_words(
        sample_base: Path) -> None:
    at = _ok(AppTest.from_file(APP, default_timeout=120).run())
    complaint = "届いた電気ケトルの電源が入らない。買ったばかりなのに使えない。"
    _ok(at.text_area(key="query").input(complaint).run())
    _ok(at.button(key="record_this").click().run())
    assert at.title[0].value == "対応した事例を記録する"
    assert at.text_area(key="rec_content").value == complaint
    assert "検索した内容" in at.info[0].value
    at.selectbox(key="rec_product").select("電気ケトル KT-10")
    at.text_area(key="rec_cause").input("電源基板のはんだ不良（製造ロット 2611）")
    at.text_area(key="rec_response").input("新品と即日交換し、不良品を回収して品質保証部へ送付")
    at.text_area(key="rec_prevention").input("同ロットの出荷前に通電検査を追加")
    at.selectbox(key="rec_status").select("対応済")
    _ok(at.button(key="rec_save").click().run())
    assert "を保存しました" in at.success[0].value
    link = at.get("page_link")[0]
    assert link.proto.label == "記録した事例を開く" and "id=R" in link.proto.query_string
    assert at.text_area(key="rec_content").value == ""  # the form is ready for the next case
    with KnowledgeBase.open(sample_base) as kb:
        hits = kb.search("ケトルのスイッチを押しても動かない、新品なのに", top_k=5).hits
        recorded = [h.case for h in hits if h.case.id.startswith("R")]
        assert recorded and recorded[0].response.startswith("新品と即日交換")
        assert recorded[0].source == "app" and recorded[0].product == "電気ケトル KT-10"


def test_missing_required_fields_are_named_and_nothing_is_saved(sample_base: Path) -> None:
    before = _count(sample_base)
    at = _ok(AppTest.from_function(_record_page, default_timeout=60).run())
    assert at.text_area(key="rec_content").label == "クレーム内容 *"
    at.selectbox(key="rec_status").select("対応済")
    _ok(at.button(key="rec_save").click().run())
    message = at.error[0].value
    assert "クレーム内容：必須項目です" in message
    assert "対応：対応状況が「対応済」のときは必須です" in message
    assert _count(sample_base) == before


def test_draft_survives_a_reload(sample_base: Path) -> None:
    at = _ok(AppTest.from_function(_record_page, default_timeout=60).run())
    token = at.query_params["draft"]
    at.text_area(key="rec_content").input("レシートの金額が店頭表示より高かった")
    _ok(at.text_area(key="rec_cause").input("価格マスタの更新漏れ").run())
    reloaded = AppTest.from_function(_record_page, default_timeout=60)
    reloaded.query_params["draft"] = token
    # The same browser: AppTest has no cookies, so the browser's secret is carried over by hand
    # (ui/browser_id.py; tests/test_drafts.py shows another browser with the URL gets nothing).
    reloaded.session_state["_kb_browser_secret"] = at.session_state["_kb_browser_secret"]
    _ok(reloaded.run())
    assert reloaded.text_area(key="rec_content").value == "レシートの金額が店頭表示より高かった"
    assert reloaded.text_area(key="rec_cause").value == "価格マスタの更新漏れ"
    assert "下書きを復元しました" in reloaded.info[0].value
    other = _ok(AppTest.from_function(_record_page, default_timeout=60).run())  # another tab
    assert other.text_area(key="rec_content").value == ""


def test_edit_adds_the_prevention_measure_weeks_later(sample_base: Path) -> None:
    with KnowledgeBase.open(sample_base) as kb:
        case = next(c for c in kb.all_cases() if not c.prevention)
        others = kb.store.chunks_of([c.id for c in kb.all_cases() if c.id != case.id])
    at = AppTest.from_function(_case_page, default_timeout=60)
    at.query_params["id"] = case.id
    _ok(at.run())
    prefix = f"edit_{case.id}_"
    assert at.text_area(key=prefix + "content").value == case.content
    at.text_area(key=prefix + "prevention").input("週次でロット照合表を点検する")
    _ok(at.button(key="case_save").click().run())
    assert "この事例だけを再索引しました" in at.success[0].value
    with KnowledgeBase.open(sample_base) as kb:
        assert kb.get_case(case.id).prevention == "週次でロット照合表を点検する"
        assert kb.get_case(case.id).metadata == case.metadata  # fields the form lacks are kept
        assert kb.store.chunks_of([c for c in others]) == others
        assert kb.search("ロット照合表", top_k=3, mode="lexical").hits[0].case.id == case.id


def test_retire_needs_confirmation_and_restore_brings_it_back(sample_base: Path) -> None:
    query = "注文した荷物が届かない"
    with KnowledgeBase.open(sample_base) as kb:
        top = kb.search(query, top_k=1).hits[0].case.id
    at = AppTest.from_function(_case_page, default_timeout=60)
    at.query_params["id"] = top
    _ok(at.run())
    assert at.button(key="case_retire").disabled
    _ok(at.checkbox(key="case_retire_confirm").check().run())
    _ok(at.button(key="case_retire").click().run())
    assert f"事例 {top} を廃止しました" in at.success[0].value.replace("\\", "")
    assert any("廃止されています" in w.value for w in at.warning)
    with KnowledgeBase.open(sample_base) as kb:
        assert top not in [h.case.id for h in kb.search(query, top_k=20).hits]
    _ok(at.button(key="case_restore").click().run())
    assert "復元しました" in at.success[0].value
    with KnowledgeBase.open(sample_base) as kb:
        assert kb.search(query, top_k=1).hits[0].case.id == top


def test_unknown_case_id_says_so(sample_base: Path) -> None:
    at = AppTest.from_function(_case_page, default_timeout=60)
    at.query_params["id"] = "NO-SUCH"
    _ok(at.run())
    assert "見つかりません" in at.error[0].value


def test_record_page_in_english(sample_base: Path) -> None:
    at = AppTest.from_function(_record_page, default_timeout=60)
    at.session_state["lang"] = "en"
    _ok(at.run())
    assert at.title[0].value == "Record a handled complaint"
    assert at.text_area(key="rec_content").label == "Complaint *"
    assert at.button(key="rec_save").label == "Save and make searchable"
    _ok(at.button(key="rec_save").click().run())
    assert "Complaint: required." in at.error[0].value
