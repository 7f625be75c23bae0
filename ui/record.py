"""Record a handled complaint (staff): validated, stored, embedded and searchable at once.

The form autosaves a draft, masked, under an unguessable token kept in the page's URL
(?draft=…) and bound to this browser (ui/browser_id.py), so a reload, or a detour to
another page, brings the typed text back, while the same URL opened in another browser
shows an empty form. Drafts nobody touched for KB_DRAFT_DAYS (7) are deleted.
"""

from __future__ import annotations

import streamlit as st

from ingest.case_form import case_from_form, new_case_id
from kb import KnowledgeBase, is_draft_token, new_draft_token
from ui import case_fields, nav
from ui.auth import acting_as
from ui.browser_id import browser_owner
from ui.history import staff_actor
from ui.i18n import tr
from ui.state import warm_clusters
from ui.text import escape_markdown

TEXT: dict[str, tuple[str, str]] = {
    "nav": ("事例を記録", "Record a case"),
    "title": ("対応した事例を記録する", "Record a handled complaint"),
    "intro": ("受付日時・内容・原因・対応・再発防止策を記録すると、すぐに検索できるようになり、"
              "次に同じ申し出を受けた人が参照できます。",
              "Write down what happened, why, what was done and what will prevent it; the case "
              "is searchable at once, so the next person handling the same complaint finds it."),
    "prefilled": ("検索した内容を「クレーム内容」に入れました。", "The complaint you searched is filled in."),
    "restored": ("保存されていない下書きを復元しました。", "Restored your unsaved draft."),
    "save": ("保存して検索できるようにする", "Save and make searchable"),
    "discard": ("下書きを破棄", "Discard draft"),
    "saved": ("事例 {id} を保存しました。検索にすぐ表示されます。",
              "Saved case {id}; it shows up in searches now."),
    "open": ("記録した事例を開く", "Open the recorded case"),
    "draft_note": ("入力内容は下書きとして自動保存されます（再読み込みしても消えません）。",
                   "Your input is saved as a draft as you go (a reload keeps it)."),
}
PREFIX = "rec_"


def _token() -> str:
    """This tab's draft token: from the URL, else the session, else a new one (put in the URL)."""
    token = st.query_params.get("draft") or st.session_state.get("rec_token")
    if not token or not is_draft_token(token):
        token = new_draft_token()
    st.session_state["rec_token"] = token
    if st.query_params.get("draft") != token:
        st.query_params["draft"] = token
    return token


def _autosave(kb: KnowledgeBase, token: str) -> None:
    kb.save_draft(token, case_fields.to_draft(case_fields.current(PREFIX)), owner=browser_owner())


def _fill(kb: KnowledgeBase, token: str) -> None:
    """Before drawing: take a complaint handed over from search, or restore the draft."""
    prefill = st.session_state.pop("record_prefill", None)
    fresh = PREFIX + "content" not in st.session_state
    draft = kb.load_draft(token, owner=browser_owner()) if fresh else None
    if prefill:
        if draft:
            case_fields.preset(PREFIX, case_fields.from_draft(draft))
        case_fields.preset(PREFIX, {"content": prefill})
        _autosave(kb, token)
        st.info(tr(TEXT, "prefilled"))
    elif draft:
        case_fields.preset(PREFIX, case_fields.from_draft(draft))
        st.info(tr(TEXT, "restored"))


def _save(kb: KnowledgeBase, token: str) -> None:
    case, problems = case_from_form(case_fields.form_values(PREFIX), new_case_id())
    if problems:
        case_fields.show_problems(problems)
        return
    assert case is not None
    with acting_as(staff_actor()):
        kb.ingest_cases([case])
    warm_clusters(kb)
    kb.delete_draft(token, owner=browser_owner())
    st.session_state["rec_clear"] = True
    st.session_state["rec_saved"] = case.id
    st.session_state["rec_token"] = new_draft_token()
    st.query_params["draft"] = st.session_state["rec_token"]
    st.rerun()


def render(kb: KnowledgeBase) -> None:
    st.title(tr(TEXT, "title"))
    st.caption(tr(TEXT, "intro"))
    if saved := st.session_state.pop("rec_saved", None):
        st.success(escape_markdown(tr(TEXT, "saved", id=saved)))
        nav.link("case", tr(TEXT, "open"), {"id": saved}, icon=":material/open_in_new:")
    token = _token()
    if st.session_state.pop("rec_clear", False):
        case_fields.reset(PREFIX)
    _fill(kb, token)

    case_fields.draw(kb, PREFIX, on_change=lambda: _autosave(kb, token))
    st.caption(tr(TEXT, "draft_note"))
    left, right = st.columns([2, 1])
    if left.button(tr(TEXT, "save"), type="primary", key="rec_save"):
        _save(kb, token)
    if right.button(tr(TEXT, "discard"), key="rec_discard"):
        kb.delete_draft(token, owner=browser_owner())
        st.session_state["rec_clear"] = True
        st.rerun()
