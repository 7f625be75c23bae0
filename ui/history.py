"""Around the case page: the way back to the search it was opened from, the case's change
history (who changed which field when) read from the audit log, and who a staff write is
recorded as."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kb import KnowledgeBase, fields_in
from ui import messages, nav
from ui.auth import current_manager, open_mode
from ui.i18n import field_label, tr

TEXT: dict[str, tuple[str, str]] = {
    "back": ("← 検索結果に戻る（「{query}」）", "← Back to the results for “{query}”"),
    "history": ("変更履歴", "Change history"),
    "history_none": ("この事例の変更は記録されていません（台帳から取り込んだままです）。",
                     "No change is recorded for this case (as imported from its ledger)."),
    "col_at": ("日時（日本時間）", "When (Japan time, JST)"),
    "col_actor": ("実行者", "Who"),
    "col_action": ("操作", "Action"),
    "col_fields": ("変更した項目", "Fields changed"),
}
LAST_QUERY = "search_last_query"  # set by the search page (ui/search.py)


def staff_actor() -> str:
    """The signed-in manager, else 「staff (app)」 as the README promises: with no sign-in
    configured, the open mode's local stand-in (「root (local)」) is nobody in particular."""
    name = current_manager()
    return name if name and not open_mode() else "staff (app)"


def back_to_results() -> None:
    """A link back to the search page, which shows the same search again."""
    query = st.session_state.get(LAST_QUERY)
    if query:
        short = query if len(query) <= 30 else query[:29] + "…"
        nav.link("search", tr(TEXT, "back", query=short))


def _fields(detail: str) -> str:
    sep = ", " if st.session_state.get("lang") == "en" else "、"
    return sep.join(_label(n) for n in fields_in(detail))


def _label(name: str) -> str:
    try:
        return field_label(name)
    except KeyError:  # an extra column: its own name
        return name


def show(kb: KnowledgeBase, case_id: str) -> None:
    """The audit events that named this case, newest first."""
    st.subheader(tr(TEXT, "history"))
    events = kb.audit_events(case_id=case_id)
    if not events:
        st.caption(tr(TEXT, "history_none"))
        return
    # A plain table: a few rows, readable (and selectable as text) as they are.
    st.table(pd.DataFrame([{
        tr(TEXT, "col_at"): messages.when(e.at), tr(TEXT, "col_actor"): e.actor,
        tr(TEXT, "col_action"): messages.action(e.action),
        tr(TEXT, "col_fields"): _fields(e.detail)} for e in events]).set_index(tr(TEXT, "col_at")))
