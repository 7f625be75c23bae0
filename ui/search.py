"""Search page: describe a new complaint, see similar past cases and how they were handled.

Thin: the knowledge base ranks, `kb.outputs.handover` writes the note; this module lays
out widgets. Ledger text is always escaped before it reaches Markdown.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from kb import (
    MODES,
    CaseHit,
    Filters,
    KnowledgeBase,
    NoteFields,
    PassageHit,
    SearchResult,
    export,
    handover_html,
    handover_markdown,
    match_spans,
    tokens,
)
from ui import history, nav
from ui.case_fields import case_facts
from ui.filters import period_filter
from ui.i18n import field_label, lang, select_all, tr
from ui.text import escape_markdown

TEXT: dict[str, tuple[str, str]] = {
    "nav": ("事例検索", "Case search"),
    "title": ("クレーム事例検索", "Complaint case search"),
    "intro": ("お客様の申し出を自分の言葉で入力すると、似た過去事例と、"
              "その原因・対応・再発防止策を表示します。",
              "Describe the customer's complaint in your own words to see similar past cases, "
              "with their cause, response and prevention."),
    "query": ("新しいクレームの内容", "The new complaint"),
    "placeholder": ("例：注文した荷物が一週間たっても届かない。追跡番号も動いていない。",
                    "e.g. My order has not arrived after a week and the tracking does not move."),
    "search": ("検索", "Search"),
    "filters": ("絞り込み", "Filters"),
    "period": ("期間", "Period"),
    "sep": ("、", ", "),
    "colon": ("：", ": "),
    "choose": ("選択してください", "Choose options"),
    "escalated_only": ("二次クレームのみ", "Escalated cases only"),
    "advanced": ("詳細設定", "Advanced"),
    "mode": ("検索方式", "Search mode"),
    "mode_hybrid": ("ハイブリッド（推奨）", "Hybrid (recommended)"),
    "mode_dense": ("意味の近さ", "Meaning (dense)"),
    "mode_lexical": ("キーワード", "Keywords (lexical)"),
    "top_k": ("表示件数", "Number of cases"),
    "count": ("類似事例 {n} 件（{ms:.0f} ms）", "{n} similar cases ({ms:.0f} ms)"),
    "no_results": ("似た過去事例は見つかりませんでした。言葉を変えるか、絞り込みを外してください。",
                   "No similar past cases. Try other words or remove filters."),
    "empty": ("上の欄にクレームの内容を入力してください。", "Type the complaint above to search."),
    "warn_head": ("⚠️ 類似事例 {n} 件中 {m} 件が二次クレームに発展しています。"
                  "同じ対応を繰り返さないでください。",
                  "⚠️ {m} of the {n} similar cases escalated. Do not repeat what went wrong."),
    "warn_case": ("{id}：原因「{cause}」／対応「{response}」",
                  "{id}: cause \"{cause}\" / response \"{response}\""),
    "badge": ("二次クレーム", "Escalated"),
    "similarity": ("類似度", "Similarity"),
    "level_high": ("高", "high"),
    "level_medium": ("中", "medium"),
    "level_low": ("低", "low"),
    "no_close": ("近い過去事例は見つかりませんでした。", "No close past case was found."),
    "no_close_detail": ("いちばん近い事例でも、似た事例のない台帳で見つかる程度の近さです。"
                        "参考として最も近い {n} 件を表示します。新しい種類のクレームとして記録してください。",
                        "Even the nearest cases are no closer than what a ledger without such a case "
                        "returns. The {n} nearest are shown for reference; consider recording this "
                        "as a new kind of complaint."),
    "nearest": ("参考：最も近い事例", "For reference: the nearest cases"),
    "matched": ("一致した語", "Matched words"),
    "matched_in": ("一致した項目", "Matched in"),
    "helpful": ("役に立った", "Helpful"),
    "not_helpful": ("役に立たない", "Not helpful"),
    "thanks": ("フィードバックを記録しました（{id}）", "Feedback saved ({id})"),
    "given_up": ("「役に立った」を記録済み", "Saved as helpful"),
    "given_down": ("「役に立たない」を記録済み", "Saved as not helpful"),
    "handover": ("引き継ぎメモ（二次対応へ）", "Hand-over note (for escalation)"),
    "request": ("お客様の要望", "What the customer asks for"),
    "staff": ("担当者名", "Your name"),
    "order": ("注文番号", "Order number"),
    "said": ("お客様にお伝え済みの内容", "What has already been told to the customer"),
    "download_md": ("Markdownでダウンロード", "Download as Markdown"),
    "download_html": ("印刷用（HTML）をダウンロード", "Download printable (HTML)"),
    "manuals": ("関連するマニュアル", "Manual passages that apply"),
    "scope": ("検索対象", "Search in"),
    "scope_all": ("事例とマニュアル", "Cases and manuals"),
    "scope_manuals": ("マニュアルのみ", "Manuals only"),
    "manual_count": ("マニュアルの該当箇所 {n} 件（{ms:.0f} ms）", "{n} manual passages ({ms:.0f} ms)"),
    "no_manuals": ("該当するマニュアルの箇所はありません（マニュアル管理で登録できます）。",
                   "No manual passage applies (manuals are added on the Manuals page)."),
    "open_page": ("このページを開く", "Open this page"),
    "page_text": ("{title} {pages} の本文", "Text of {title} {pages}"),
    "download_file": ("元のファイル", "Original file"),
    "record": ("この申し出を事例として記録する", "Record this complaint as a case"),
    "open_case": ("詳細・編集", "Open / edit"),
    "export_csv": ("結果をCSVで保存", "Save results as CSV"),
    "export_xlsx": ("結果をExcelで保存", "Save results as Excel"),
}


def _sidebar_filters(kb: KnowledgeBase) -> tuple[Filters, str, int, str]:
    st.sidebar.header(tr(TEXT, "filters"))
    scopes = {s: tr(TEXT, f"scope_{s}") for s in SCOPES}
    scope = st.sidebar.radio(tr(TEXT, "scope"), list(scopes), format_func=scopes.__getitem__,
                             key="scope")
    facets = kb.facets()
    date_from, date_to = period_filter(kb, tr(TEXT, "period"), "period")
    picks = {}
    for name in ("category", "product", "channel"):
        options = [value for value, _ in facets[name]]
        picks[name] = tuple(st.sidebar.multiselect(field_label(name), options, key=f"f_{name}",
                                                   placeholder=tr(TEXT, "choose"),
                                                   select_all=select_all()))
    escalated = st.sidebar.checkbox(tr(TEXT, "escalated_only"), key="f_escalated")
    with st.sidebar.expander(tr(TEXT, "advanced")):
        # Keyed per language: the option labels change with it.
        labels = {m: tr(TEXT, f"mode_{m}") for m in MODES}
        mode = st.selectbox(tr(TEXT, "mode"), MODES, format_func=labels.__getitem__,
                            key=f"mode_{lang()}")
        top_k = st.slider(tr(TEXT, "top_k"), 3, 30, 10, key="top_k")
    filters = Filters(date_from, date_to, picks["category"], picks["product"], picks["channel"],
                      True if escalated else None)
    return filters, mode, top_k, scope


def highlight(text: str, terms: set[str]) -> str:
    """Escaped Markdown of `text` with the words that matched the query marked."""
    out: list[str] = []
    last = 0
    for start, end in match_spans(text, terms):
        out.append(escape_markdown(text[last:start]))
        out.append(f":orange[**{escape_markdown(text[start:end])}**]")
        last = end
    out.append(escape_markdown(text[last:]))
    return "".join(out)


def _feedback_buttons(kb: KnowledgeBase, query: str, rank: int, hit: CaseHit, mode: str) -> None:
    given = st.session_state.setdefault("feedback_given", {})
    key = (query, hit.case.id)
    if key in given:
        st.caption(tr(TEXT, "given_up" if given[key] else "given_down"))
        return
    # A row that sizes each button to its label (and wraps when narrow): fixed columns cut
    # both labels to 「役に立…」 when the manuals take a third of the page.
    row = st.container(horizontal=True, gap="small")
    for helpful, label, icon in ((True, "helpful", ":material/thumb_up:"),
                                 (False, "not_helpful", ":material/thumb_down:")):
        if row.button(tr(TEXT, label), key=f"fb_{int(helpful)}_{hit.case.id}", icon=icon):
            kb.record_feedback(query, hit.case.id, helpful, rank=rank, mode=mode)
            given[key] = helpful
            st.toast(escape_markdown(tr(TEXT, "thanks", id=hit.case.id)))
            st.rerun()


def _case_card(kb: KnowledgeBase, query: str, rank: int, hit: CaseHit, terms: set[str],
               mode: str) -> None:
    case = hit.case
    with st.container(border=True):
        facts = " ・ ".join(escape_markdown(x) for x in case_facts(case) if x)
        badge = f"  :red-background[{tr(TEXT, 'badge')}]" if case.escalated else ""
        badge += _similarity_badge(hit)
        st.markdown(f"**{rank}. {highlight(case.title or case.id, terms)}**{badge}  \n"
                    f"{facts} ・ {field_label('id')} {escape_markdown(case.id)}")
        st.markdown(f"**{field_label('content')}**  \n{highlight(case.content, terms)}")
        if case.customer_request:
            st.markdown(f"**{field_label('customer_request')}**{tr(TEXT, 'colon')}"
                        f"{highlight(case.customer_request, terms)}")
        columns = st.columns(3)
        for column, name in zip(columns, ("cause", "response", "prevention"), strict=True):
            value = getattr(case, name)
            column.markdown(f"**{field_label(name)}**  \n"
                            f"{highlight(value, terms) if value else field_label('none')}")
        if hit.matched_terms:
            sep = tr(TEXT, "sep")
            where = sep.join(field_label(f) for f in hit.matched_fields)
            st.caption(f"{tr(TEXT, 'matched')}: {escape_markdown(sep.join(hit.matched_terms))} "
                       f"／ {tr(TEXT, 'matched_in')}: {where}")
        _feedback_buttons(kb, query, rank, hit, mode)
        nav.link("case", tr(TEXT, "open_case"), {"id": case.id}, icon=":material/open_in_new:")


NEAREST_SHOWN = 3  # cases shown, for reference, under "no close past case"
SCOPES = ("all", "manuals")
_LEVEL_COLOURS = {"high": "green", "medium": "orange", "low": "gray"}


def _similarity_badge(hit: CaseHit) -> str:
    """類似度 高 (0.82): how close this case really is, calibrated per model."""
    if hit.level is None or hit.confidence is None:
        return ""
    colour = _LEVEL_COLOURS[hit.level]
    return (f"  :{colour}-badge[{tr(TEXT, 'similarity')} {tr(TEXT, f'level_{hit.level}')} "
            f"({hit.confidence:.2f})]")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escalation_warning(hits: list[CaseHit]) -> None:
    escalated = [h for h in hits if h.case.escalated]
    if not escalated:
        return
    lines = [tr(TEXT, "warn_head", n=len(hits), m=len(escalated))]
    for hit in escalated[:5]:
        lines.append("- " + escape_markdown(tr(TEXT, "warn_case", id=hit.case.id,
                                               cause=_short(hit.case.cause or "—"),
                                               response=_short(hit.case.response or "—"))))
    st.warning("\n".join(lines))


def _handover(query: str, result: SearchResult, shown: int) -> None:
    """The note lists the `shown` cases of the screen, so its counts are the page's."""
    with st.expander(tr(TEXT, "handover")):
        left, right = st.columns(2)
        staff = left.text_input(tr(TEXT, "staff"), key="handover_staff")
        order = right.text_input(tr(TEXT, "order"), key="handover_order")
        request = st.text_input(tr(TEXT, "request"), key="handover_request")
        said = st.text_area(tr(TEXT, "said"), key="handover_said", height=68)
        fields = NoteFields(request=request, staff=staff, order=order, said=said)
        now = dt.datetime.now()
        note = handover_markdown(query, fields, result, lang=lang(), now=now, shown=shown)
        st.code(note, language="markdown")
        left, right = st.columns(2)
        stamp = now.strftime("%Y%m%d-%H%M")
        left.download_button(tr(TEXT, "download_md"), note, file_name=f"handover-{stamp}.md",
                             mime="text/markdown", key="dl_md")
        right.download_button(tr(TEXT, "download_html"),
                              handover_html(query, fields, result, lang(), now, shown),
                              file_name=f"handover-{stamp}.html", mime="text/html",
                              key="dl_html")


def _passage_card(kb: KnowledgeBase, n: int, passage: PassageHit, terms: set[str]) -> None:
    with st.container(border=True):
        where = " › ".join(passage.heading_path)
        st.markdown(f"**{escape_markdown(passage.title)}** {escape_markdown(passage.pages)}  \n"
                    f"{escape_markdown(where)}")
        st.markdown(highlight(_short(passage.text, 240), terms))
        with st.expander(tr(TEXT, "open_page")):
            page_text = (kb.page_text(passage.document_id, passage.page_start)
                         if passage.page_start else passage.text)
            st.caption(escape_markdown(tr(TEXT, "page_text", title=passage.title, pages=passage.pages)))
            st.text(page_text)
            content = kb.document_content(passage.document_id)
            if content is not None:
                st.download_button(tr(TEXT, "download_file"), content,
                                   file_name=passage.document_id, key=f"pdl_{n}")


def _actions(query: str, result: SearchResult) -> None:
    """Record what was just handled (the form starts with this complaint); save the results."""
    record, csv_, xlsx = st.columns([2, 1, 1])
    if record.button(tr(TEXT, "record"), key="record_this", icon=":material/edit_note:"):
        st.session_state["record_prefill"] = query
        target = nav.page("record")
        if target is not None:
            st.switch_page(target)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    cases = [h.case for h in result.hits]
    for column, file_format in ((csv_, "csv"), (xlsx, "xlsx")):
        column.download_button(tr(TEXT, f"export_{file_format}"),
                               lambda f=file_format: export(cases, f),
                               file_name=f"similar-cases-{stamp}.{file_format}",
                               key=f"export_{file_format}", on_click="ignore")


def _manual_results(kb: KnowledgeBase, query: str, result: SearchResult) -> None:
    """Manuals only (issue 15, item 20): the passages at full width, nothing about cases."""
    if not result.passages:
        st.info(tr(TEXT, "no_manuals"))
        return
    st.caption(tr(TEXT, "manual_count", n=len(result.passages), ms=result.took_ms))
    terms = {t for t in tokens(query) if not t.isdigit()}
    for n, passage in enumerate(result.passages):
        _passage_card(kb, n, passage, terms)


def render_results(kb: KnowledgeBase, query: str, result: SearchResult) -> None:
    _actions(query, result)
    if not result.hits and not result.passages:
        st.info(tr(TEXT, "no_results"))
        return
    hits = result.hits[:NEAREST_SHOWN] if result.no_close_case else result.hits
    st.caption(tr(TEXT, "count", n=len(hits), ms=result.took_ms))
    _escalation_warning(hits)
    terms = {t for t in tokens(query) if not t.isdigit()}  # 一 normalises to 1: too noisy
    cases_column, manuals_column = (st.columns([2, 1]) if result.passages
                                    else (st.container(), None))
    with cases_column:
        if not hits:
            st.info(tr(TEXT, "no_results"))
        elif result.no_close_case:
            st.warning(f"**{tr(TEXT, 'no_close')}**  \n{tr(TEXT, 'no_close_detail', n=len(hits))}")
            st.subheader(tr(TEXT, "nearest"))
        for rank, hit in enumerate(hits, start=1):
            _case_card(kb, query, rank, hit, terms, result.mode)
    if manuals_column is not None:
        with manuals_column:
            st.subheader(tr(TEXT, "manuals"))
            for n, passage in enumerate(result.passages):
                _passage_card(kb, n, passage, terms)
    _handover(query, result, len(hits))


# Widgets whose values outlive a visit to another page (Streamlit drops a widget's state
# when a run does not draw it): 「検索結果に戻る」 on the case page finds the search as it was.
_KEPT = ("query", "f_category", "f_product", "f_channel", "f_escalated")


def _restore_kept() -> None:
    for key in _KEPT:
        if key not in st.session_state and f"kept_{key}" in st.session_state:
            st.session_state[key] = st.session_state[f"kept_{key}"]


def _keep() -> None:
    for key in _KEPT:
        if key in st.session_state:
            st.session_state[f"kept_{key}"] = st.session_state[key]


def render(kb: KnowledgeBase) -> None:
    st.title(tr(TEXT, "title"))
    st.caption(tr(TEXT, "intro"))
    _restore_kept()
    filters, mode, top_k, scope = _sidebar_filters(kb)
    query = st.text_area(tr(TEXT, "query"), placeholder=tr(TEXT, "placeholder"), key="query",
                         height=110)
    clicked = st.button(tr(TEXT, "search"), type="primary", key="search")
    _keep()
    if (clicked or query) and query.strip():
        st.session_state[history.LAST_QUERY] = query
        result = _search(kb, query, top_k, mode, filters, clicked, scope)
        if scope == "manuals":
            _manual_results(kb, query, result)
        else:
            render_results(kb, query, result)
    else:
        st.session_state.pop(history.LAST_QUERY, None)
        st.info(tr(TEXT, "empty"))


def _search(kb: KnowledgeBase, query: str, top_k: int, mode: str, filters: Filters,
            clicked: bool, scope: str = "all") -> SearchResult:
    """The search on screen stays as it is while staff rate its cards (feedback reruns the
    page): rated cards must not jump away under the cursor. Feedback takes effect from the
    next search: another query, filter or mode, or 検索 pressed again. A write to the base (a
    case edited, a ledger imported) is a new state: the search runs again on it."""
    asked = (query, top_k, mode, filters, scope, kb.stats().state_version)
    held = st.session_state.get("search_shown")
    if not clicked and held is not None and held[0] == asked:
        return held[1]
    if scope == "manuals":  # as many passages as cases would be shown, and no cases
        result = kb.search(query, top_k=1, mode=mode, filters=filters, passages=top_k)
        result.hits = []
    else:
        result = kb.search(query, top_k=top_k, mode=mode, filters=filters)
    st.session_state["search_shown"] = (asked, result)
    return result
