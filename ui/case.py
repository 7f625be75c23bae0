"""One case: read it, edit it (e.g. add the prevention measure weeks later), retire or restore it.

Opened from search results, the record page and the ledgers page as `case?id=…`.
Editing re-embeds only this case; retiring keeps it but takes it out of search and clusters.
"""

from __future__ import annotations

import streamlit as st

from ingest.case_form import METADATA_FIELDS, case_from_form, metadata_column
from ingest.records import Case
from ingest.values import status_of
from kb import KnowledgeBase, changed_fields
from ui import case_fields, history
from ui.auth import acting_as, require_manager
from ui.case_fields import case_facts
from ui.i18n import field_label, tr
from ui.state import warm_clusters
from ui.text import escape_markdown

TEXT: dict[str, tuple[str, str]] = {
    "nav": ("事例を開く", "Open a case"),
    "pick": ("管理番号を入力してください（検索結果の「詳細・編集」からも開けます）。",
             "Enter a case ID (or open one from a search result)."),
    "missing": ("事例 {id} は見つかりません。", "No case {id}."),
    "retired": ("この事例は廃止されています（{when}）。検索とクラスタには表示されません。",
                "This case was retired ({when}); it is left out of search and clusters."),
    "source": ("登録元", "Source"),
    "edit": ("編集する", "Edit"),
    "save": ("変更を保存", "Save changes"),
    "saved": ("変更を保存しました。この事例だけを再索引しました。",
              "Saved; only this case was re-indexed."),
    "unchanged": ("変更はありません。", "Nothing changed."),
    "retire": ("廃止する", "Retire"),
    "retire_help": ("古くなった事例を検索・クラスタから外します（データは残り、いつでも戻せます）。",
                    "Takes an outdated case out of search and clusters; it is kept and can be "
                    "restored at any time."),
    "retire_confirm": ("事例 {id} を廃止することを確認しました", "I confirm retiring case {id}"),
    "retired_done": ("事例 {id} を廃止しました。", "Retired case {id}."),
    "restore": ("復元する", "Restore"),
    "restored_done": ("事例 {id} を復元しました。検索に再び表示されます。",
                      "Restored case {id}; it shows up in searches again."),
    "manage": ("廃止・復元", "Retire or restore"),
}


def _show(case: Case) -> None:
    facts = " ・ ".join(escape_markdown(x) for x in [*case_facts(case), status_of(case.status)]
                       if x)
    badge = f"  :red-background[{field_label('escalated')}]" if case.escalated else ""
    st.markdown(f"{facts}{badge}  \n{field_label('id')} {escape_markdown(case.id)}"
                f"{' ・ ' + tr(TEXT, 'source') + ' ' + escape_markdown(case.source) if case.source else ''}")
    for name in ("content", "customer_request", "cause", "response", "prevention"):
        value = getattr(case, name)
        st.markdown(f"**{field_label(name)}**  \n"
                    f"{escape_markdown(value) if value else field_label('none')}")
    shown = {metadata_column(case.metadata, n) for n in METADATA_FIELDS}  # among the facts above
    for key, value in case.metadata.items():
        if key in shown:
            continue
        st.markdown(f"**{escape_markdown(key)}**{'：'}{escape_markdown(value)}")


def _edit(kb: KnowledgeBase, case: Case) -> None:
    prefix = f"edit_{case.id}_"
    if prefix + "content" not in st.session_state:
        case_fields.preset(prefix, case_fields.values_from_case(case))
    with st.expander(tr(TEXT, "edit"), expanded=st.session_state.get("case_editing", False)):
        case_fields.draw(kb, prefix)
        if st.button(tr(TEXT, "save"), type="primary", key="case_save"):
            st.session_state["case_editing"] = True
            edited, problems = case_from_form(case_fields.form_values(prefix), case.id, base=case)
            if problems:
                case_fields.show_problems(problems)
                return
            assert edited is not None
            if edited == case:
                st.info(tr(TEXT, "unchanged"))
                return
            with acting_as(history.staff_actor()):
                kb.ingest_cases([edited], detail=changed_fields(case, edited))
            warm_clusters(kb)
            st.session_state["case_message"] = tr(TEXT, "saved")
            st.rerun()


def _retire(kb: KnowledgeBase, case: Case, retired: str | None) -> None:
    st.subheader(tr(TEXT, "manage"))
    manager = require_manager("case_auth")
    if manager is None:
        return
    if retired:
        if st.button(tr(TEXT, "restore"), key="case_restore", type="primary"):
            with acting_as(manager):
                kb.restore_cases([case.id])
            st.session_state["case_message"] = tr(TEXT, "restored_done", id=case.id)
            st.rerun()
        return
    st.caption(tr(TEXT, "retire_help"))
    confirm = st.checkbox(escape_markdown(tr(TEXT, "retire_confirm", id=case.id)),
                          key="case_retire_confirm")
    if st.button(tr(TEXT, "retire"), key="case_retire", disabled=not confirm):
        with acting_as(manager):
            kb.retire_cases([case.id])
        st.session_state["case_message"] = tr(TEXT, "retired_done", id=case.id)
        st.session_state.pop("case_retire_confirm", None)
        st.rerun()


def render(kb: KnowledgeBase) -> None:
    history.back_to_results()

    def open_picked() -> None:  # another case by its id, at its own URL (case?id=…)
        if picked := st.session_state.get("case_pick", "").strip():
            st.query_params["id"] = picked

    st.sidebar.text_input(tr(TEXT, "pick"), key="case_pick", on_change=open_picked)
    case_id = st.query_params.get("id") or ""
    if not case_id:
        return
    case = kb.get_case(case_id)
    if case is None:
        st.error(escape_markdown(tr(TEXT, "missing", id=case_id)))
        return
    st.title(escape_markdown(case.title or case.id))  # ledger text: never markup
    if message := st.session_state.pop("case_message", None):
        st.success(escape_markdown(message))
    retired = kb.retired_at(case.id)
    if retired:
        st.warning(tr(TEXT, "retired", when=retired[:16].replace("T", " ")))
    _show(case)
    if not retired:
        _edit(kb, case)
    _retire(kb, case, retired)
    history.show(kb, case.id)
