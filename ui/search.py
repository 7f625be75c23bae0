"""Search page: describe a new complaint, see similar past cases and how they were handled."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from kb import Filters, KnowledgeBase, SearchResult
from kb.results import CaseHit
from ui.text import escape_markdown

FIELD_LABELS = {
    "title": "件名 Title",
    "content": "クレーム内容 Complaint",
    "customer_request": "顧客の要望 Request",
    "cause": "原因 Cause",
    "response": "対応 Response",
    "prevention": "再発防止策 Prevention",
}
MODE_LABELS = {"hybrid": "ハイブリッド Hybrid", "dense": "意味検索 Dense",
               "lexical": "キーワード Lexical"}


def _sidebar_filters(kb: KnowledgeBase) -> tuple[Filters, str, int]:
    st.sidebar.header("絞り込み Filters")
    facets = kb.facets()
    first, last = kb.date_range()
    date_from = date_to = None
    if first and last:
        lo, hi = dt.date.fromisoformat(first[:10]), dt.date.fromisoformat(last[:10])
        period = st.sidebar.date_input("期間 Period", value=(lo, hi), min_value=lo, max_value=hi,
                                       key="period")
        if isinstance(period, tuple) and len(period) == 2 and period != (lo, hi):
            date_from, date_to = period[0].isoformat(), period[1].isoformat()
    picks = {}
    for name, label in (("category", "分類 Category"), ("product", "商品 Product"),
                        ("channel", "受付経路 Channel")):
        options = [value for value, _ in facets[name]]
        picks[name] = tuple(st.sidebar.multiselect(label, options, key=f"f_{name}"))
    escalated = st.sidebar.checkbox("二次クレームのみ Escalated only", key="f_escalated")
    with st.sidebar.expander("詳細 Advanced"):
        mode = st.selectbox("検索方式 Mode", list(MODE_LABELS), format_func=MODE_LABELS.get,
                            key="mode")
        top_k = st.slider("表示件数 Results", 3, 30, 10, key="top_k")
    filters = Filters(date_from, date_to, picks["category"], picks["product"], picks["channel"],
                      True if escalated else None)
    return filters, mode, top_k


def _case_card(rank: int, hit: CaseHit) -> None:
    case = hit.case
    with st.container(border=True):
        facts = " ・ ".join(escape_markdown(x) for x in
                           (case.date or "", case.category, case.product, case.channel) if x)
        badge = "  :red-background[二次クレーム Escalated]" if case.escalated else ""
        st.markdown(f"**{rank}. {escape_markdown(case.title or case.id)}**{badge}  \n"
                    f"{facts} ・ ID {escape_markdown(case.id)}")
        st.markdown(f"**{FIELD_LABELS['content']}**  \n{escape_markdown(case.content)}")
        if case.customer_request:
            st.markdown(f"**{FIELD_LABELS['customer_request']}**: "
                        f"{escape_markdown(case.customer_request)}")
        columns = st.columns(3)
        for column, name in zip(columns, ("cause", "response", "prevention"), strict=True):
            value = getattr(case, name)
            column.markdown(f"**{FIELD_LABELS[name]}**  \n"
                            f"{escape_markdown(value) if value else '—'}")
        if hit.matched_terms:
            fields = ", ".join(FIELD_LABELS.get(f, f) for f in hit.matched_fields)
            st.caption(f"一致語 Matched: {', '.join(hit.matched_terms)} （{fields}）")


def render_results(result: SearchResult) -> None:
    if not result.hits:
        st.info("似た過去事例は見つかりませんでした。言葉を変えるか絞り込みを外してください。  \n"
                "No similar past cases. Try other words or remove filters.")
        return
    escalated = sum(1 for h in result.hits if h.case.escalated)
    st.caption(f"{len(result.hits)} 件 / cases ・ {result.took_ms:.0f} ms")
    if escalated:
        st.warning(f"上位 {len(result.hits)} 件中 {escalated} 件が二次クレームに発展しています。"
                   f"  \n{escalated} of the top {len(result.hits)} similar cases escalated.")
    for rank, hit in enumerate(result.hits, start=1):
        _case_card(rank, hit)


def render(kb: KnowledgeBase) -> None:
    st.title("クレーム事例検索 Complaint case search")
    filters, mode, top_k = _sidebar_filters(kb)
    query = st.text_area("新しいクレームの内容 Describe the new complaint",
                         placeholder="例: 注文した荷物が届かない / e.g. my package has not arrived",
                         key="query", height=110)
    clicked = st.button("検索 Search", type="primary", key="search")
    if (clicked or query) and query.strip():
        render_results(kb.search(query, top_k=top_k, mode=mode, filters=filters))
