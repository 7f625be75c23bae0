"""Clusters page: groups of similar past complaints for the monthly quality / CS review.

Thin: kb.clusters does the work; this page picks the selection, shows the result and lets it
be downloaded. Ledger text is shown as text (tables, or Markdown-escaped).
"""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st

from kb import (
    CONTINUES,
    GROWING_NO_MEASURE,
    Cluster,
    ClusterParams,
    ClusterReport,
    Filters,
    KnowledgeBase,
    cluster_cases,
)
from ui.filters import period_filter
from ui.i18n import tr
from ui.text import escape_markdown

TEXT: dict[str, tuple[str, str]] = {
    "nav": ("類似事例クラスタ", "Clusters"),
    "title": ("類似クレームのクラスタ", "Similar-incident clusters"),
    "filters": ("クラスタの対象", "Cases to cluster"),
    "period": ("期間", "Period"),
    "product": ("商品", "Product"),
    "category": ("分類", "Category"),
    "choose": ("選択してください", "Choose options"),
    "n_clusters": ("クラスタ数（0 = 自動）", "Number of clusters (0 = automatic)"),
    "computing": ("クラスタを計算中…", "Clustering…"),
    "empty": ("条件に合う事例がありません。絞り込みを外してください。",
              "No cases match. Remove some filters."),
    "m_cases": ("事例数", "Cases"),
    "m_clusters": ("クラスタ数", "Clusters"),
    "m_outliers": ("外れ値", "Outliers"),
    "m_continues": ("対策後も再発", "Recurring after a measure"),
    "m_growing": ("増加・対策なし", "Growing, no measure"),
    "method": ("埋め込み＋TF-IDF の近傍グラフをクラスタリング（{algorithm}、"
               "データから推定したクラスタ数 {found}）、{seconds:.1f} 秒",
               "Neighbour graph of embeddings + TF-IDF, clustered ({algorithm}; the data suggested "
               "{found} clusters), {seconds:.1f} s"),
    "warn_continues": ("再発防止策の後も苦情が続いているクラスタ: {names}",
                       "Complaints continue after a prevention measure in: {names}"),
    "warn_growing": ("増えているのに再発防止策のない問題があるクラスタ: {names}",
                     "Growing with no prevention measure in: {names}"),
    "and_more": (" ほか {n} 件", " and {n} more"),
    "ok_stopped": ("再発防止策の後に再発していない問題: {names}",
                   "Stopped after the prevention measure: {names}"),
    "map": ("事例マップ（色 = クラスタ）", "Case map (colour = cluster)"),
    "map_help": ("点にカーソルを合わせると事例が表示されます。ドラッグで範囲を囲むか点をクリックすると、"
                 "下に一覧が出ます。",
                 "Hover a point to see the case; drag a box or click points to list them below."),
    "map_sampled": ("{total} 件中 {shown} 件を表示", "Showing {shown} of {total} cases"),
    "selected": ("地図で選択した事例（{n} 件）", "Cases selected on the map ({n})"),
    "none_selected": ("地図で範囲を囲むか点をクリックすると、ここに事例が並びます。",
                      "Drag a box or click points on the map to list cases here."),
    "table": ("クラスタ一覧", "Clusters"),
    "col_cluster": ("No.", "No."),
    "col_label": ("ラベル（キーワード）", "Label (keywords)"),
    "col_size": ("件数", "Cases"),
    "col_first": ("最初", "First"),
    "col_last": ("最後", "Last"),
    "col_monthly": ("月別件数", "Per month"),
    "col_trend": ("傾向", "Trend"),
    "col_recent": ("直近 {n} か月", "Last {n} months"),
    "col_previous": ("その前 {n} か月", "{n} months before"),
    "col_escalated": ("二次クレーム率", "Escalated"),
    "col_products": ("主な商品", "Top products"),
    "col_categories": ("主な分類", "Top categories"),
    "col_flags": ("注意", "Flags"),
    "col_id": ("管理番号", "Case ID"),
    "col_date": ("受付日", "Date"),
    "col_title": ("件名", "Title"),
    "col_content": ("クレーム内容", "Complaint"),
    "col_prevention": ("再発防止策", "Prevention"),
    "col_escalated_case": ("二次クレーム", "Escalated"),
    "col_issue": ("問題", "Issue"),
    "col_status": ("再発防止策の効果", "Measure outcome"),
    "col_first_measure": ("最初の対策日", "First measure"),
    "col_measure_case": ("対策の事例", "Measure case"),
    "col_measure": ("再発防止策", "Measure"),
    "col_after": ("対策後の件数", "Cases after"),
    "col_outlier": ("外れ値", "Outlier"),
    "detail": ("クラスタの詳細", "Cluster detail"),
    "pick": ("クラスタを選択", "Choose a cluster"),
    "keywords": ("キーワード", "Keywords"),
    "period_value": ("期間", "Period"),
    "trend_value": ("傾向（直近 {n} か月 / その前）", "Trend (last {n} months / before)"),
    "escalated_value": ("二次クレーム率", "Escalated"),
    "representatives": ("代表的な事例", "Representative cases"),
    "per_month": ("月別件数", "Cases per month"),
    "month": ("月", "Month"),
    "count": ("件数", "Cases"),
    "measures": ("記録された再発防止策", "Prevention measures recorded"),
    "no_measures": ("このクラスタには再発防止策の記録がありません。",
                    "No prevention measure is recorded in this cluster."),
    "after_first": ("最初の再発防止策（{date}）より後の事例: {n} 件",
                    "Cases after the first measure ({date}): {n}"),
    "issues": ("問題ごとの再発防止策の効果", "Prevention effectiveness per issue"),
    "issues_help": ("クラスタ内のほぼ同じ内容の苦情をまとめた「問題」ごとに、最初の再発防止策より後に"
                    "同じ苦情が {n} 件以上あれば「再発継続」とします。",
                    "Each issue groups near-identical complaints in the cluster; it 'continues' when "
                    "{n} or more came after its first prevention measure."),
    "unaddressed": ("再発防止策のない問題の事例（直近 {recent} 件 / その前 {previous} 件）",
                    "Cases of issues with no prevention measure ({recent} recent / {previous} before)"),
    "cases": ("このクラスタの事例", "Cases in this cluster"),
    "outliers": ("どのクラスタにも近くない事例（外れ値）", "Cases close to no cluster (outliers)"),
    "outliers_help": ("小さすぎるまとまりの事例は、最も近いクラスタに入れたうえでここに示します。",
                      "Cases from groups too small to show joined their nearest cluster; they are "
                      "listed here."),
    "no_outliers": ("外れ値はありません（すべての事例がクラスタに属しています）。",
                    "No outliers: every case belongs to a cluster."),
    "download": ("ダウンロード", "Download"),
    "dl_cases": ("事例ごとの CSV", "Cases CSV"),
    "dl_clusters": ("クラスタ一覧 CSV", "Clusters CSV"),
    "dl_json": ("JSON", "JSON"),
    "yes": ("あり", "yes"),
    "no": ("なし", "no"),
    "trend_growing": ("増加", "growing"),
    "trend_shrinking": ("減少", "shrinking"),
    "trend_steady": ("横ばい", "steady"),
    "status_continues": ("再発継続", "continues after measure"),
    "status_stopped": ("再発なし（効果あり）", "stopped after measure"),
    "status_too_early": ("対策直後（判定前）", "measure too recent to judge"),
    "status_no_measure": ("対策なし", "no measure"),
    f"flag_{CONTINUES}": ("対策後も再発", "recurs after measure"),
    f"flag_{GROWING_NO_MEASURE}": ("増加・対策なし", "growing, no measure"),
}


# ---- computing (cached per knowledge-base version) ----
@st.cache_data(max_entries=8, show_spinner=False)
def _cached_report(index: str, version: int, date_from: str | None, date_to: str | None,
                   products: tuple[str, ...], categories: tuple[str, ...], n_clusters: int,
                   _kb: KnowledgeBase) -> ClusterReport:
    """One report per base version and selection; `_kb` is not part of the key."""
    filters = Filters(date_from, date_to, categories=categories, products=products)
    return cluster_cases(_kb, filters, ClusterParams(n_clusters=n_clusters or None))


def _sidebar(kb: KnowledgeBase) -> tuple[str | None, str | None, tuple[str, ...], tuple[str, ...], int]:
    st.sidebar.header(tr(TEXT, "filters"))
    facets = kb.facets()
    date_from, date_to = period_filter(kb, tr(TEXT, "period"), "cl_period")
    products = st.sidebar.multiselect(tr(TEXT, "product"), [v for v, _ in facets["product"]],
                                      key="cl_product", placeholder=tr(TEXT, "choose"))
    categories = st.sidebar.multiselect(tr(TEXT, "category"), [v for v, _ in facets["category"]],
                                        key="cl_category", placeholder=tr(TEXT, "choose"))
    n_clusters = st.sidebar.number_input(tr(TEXT, "n_clusters"), 0, 100, 0, key="cl_k")
    return date_from, date_to, tuple(products), tuple(categories), int(n_clusters)


def _name(cluster: Cluster) -> str:
    return f"#{cluster.id} {cluster.label}"


def _escalated(value: bool | None) -> str:
    return "" if value is None else tr(TEXT, "yes" if value else "no")


# ---- sections ----
def _overview(report: ClusterReport) -> None:
    continuing, growing = report.flagged(CONTINUES), report.flagged(GROWING_NO_MEASURE)
    cols = st.columns(5)
    cols[0].metric(tr(TEXT, "m_cases"), report.n_cases)
    cols[1].metric(tr(TEXT, "m_clusters"), len(report.clusters))
    cols[2].metric(tr(TEXT, "m_outliers"), len(report.outliers))
    cols[3].metric(tr(TEXT, "m_continues"), len(continuing))
    cols[4].metric(tr(TEXT, "m_growing"), len(growing))
    st.caption(tr(TEXT, "method", algorithm=report.algorithm, found=report.k_found,
                  seconds=report.took_ms / 1000))
    if growing:
        st.error(tr(TEXT, "warn_growing", names=", ".join(escape_markdown(_name(c)) for c in growing)))
    if continuing:
        # Most recurrences first: the clusters whose measures failed most often lead the list.
        worst = sorted(continuing, key=lambda c: -sum(len(i.after_first_measure) for i in c.issues
                                                      if i.status == "continues"))
        names = ", ".join(escape_markdown(_name(c)) for c in worst[:5])
        more = tr(TEXT, "and_more", n=len(worst) - 5) if len(worst) > 5 else ""
        st.warning(tr(TEXT, "warn_continues", names=names + more))
    stopped = [f"{i.id} {i.label}" for c in report.clusters for i in c.issues if i.status == "stopped"]
    if stopped:
        st.success(tr(TEXT, "ok_stopped", names=", ".join(escape_markdown(s) for s in stopped)))


def _case_frame(report: ClusterReport, ids: list[str] | tuple[str, ...],
                extra: bool = False) -> pd.DataFrame:
    rows = []
    for case_id in ids:
        case = report.cases[case_id]
        row = {tr(TEXT, "col_id"): case.id, tr(TEXT, "col_date"): (case.date or "")[:10],
               tr(TEXT, "col_cluster"): case.cluster, tr(TEXT, "col_title"): case.title,
               tr(TEXT, "col_content"): case.content, tr(TEXT, "product"): case.product,
               tr(TEXT, "category"): case.category,
               tr(TEXT, "col_escalated_case"): _escalated(case.escalated)}
        if extra:
            row[tr(TEXT, "col_prevention")] = case.prevention
            row[tr(TEXT, "col_issue")] = case.issue or ""
            row[tr(TEXT, "col_outlier")] = tr(TEXT, "yes") if case.outlier else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _map(report: ClusterReport) -> None:
    st.subheader(tr(TEXT, "map"))
    points = [c for c in report.cases.values() if c.x is not None]
    names = {c.id: _name(c) for c in report.clusters}
    frame = pd.DataFrame({
        "x": [c.x for c in points], "y": [c.y for c in points], "id": [c.id for c in points],
        "date": [(c.date or "")[:10] for c in points],
        "title": [c.title or c.content[:60] for c in points],
        "cluster": [names[c.cluster] for c in points],
        "product": [c.product for c in points], "category": [c.category for c in points]})
    if len(points) < report.n_cases:
        st.caption(tr(TEXT, "map_sampled", shown=len(points), total=report.n_cases))
    brush = alt.selection_interval(name="brush")
    pick = alt.selection_point(name="pick", fields=["id"])
    order = [names[c.id] for c in report.clusters]
    chart = (
        alt.Chart(frame)
        .mark_circle(size=45)
        .encode(
            x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None),
            color=alt.Color("cluster:N", sort=order, scale=alt.Scale(scheme="category20"),
                            legend=alt.Legend(title=tr(TEXT, "col_cluster"), labelLimit=260)),
            opacity=alt.condition(brush | pick, alt.value(0.9), alt.value(0.25)),
            tooltip=[alt.Tooltip("id:N", title=tr(TEXT, "col_id")),
                     alt.Tooltip("date:N", title=tr(TEXT, "col_date")),
                     alt.Tooltip("title:N", title=tr(TEXT, "col_title")),
                     alt.Tooltip("cluster:N", title=tr(TEXT, "col_cluster")),
                     alt.Tooltip("product:N", title=tr(TEXT, "product")),
                     alt.Tooltip("category:N", title=tr(TEXT, "category"))])
        .add_params(brush, pick)
        .properties(height=460)
    )
    event = st.altair_chart(chart, on_select="rerun", key="cl_map", width="stretch")
    st.caption(tr(TEXT, "map_help"))
    chosen = _selected_ids(event, frame)
    if chosen:
        st.markdown(f"**{tr(TEXT, 'selected', n=len(chosen))}**")
        st.dataframe(_case_frame(report, chosen), hide_index=True, key="cl_selected")
    else:
        st.caption(tr(TEXT, "none_selected"))


def _selected_ids(event: object, frame: pd.DataFrame) -> list[str]:
    """Cases inside the dragged box, plus clicked points."""
    selection = getattr(event, "selection", None) or {}
    chosen: list[str] = []
    box = selection.get("brush") or {}
    if "x" in box and "y" in box:
        (x0, x1), (y0, y1) = sorted(box["x"]), sorted(box["y"])
        inside = frame[frame.x.between(x0, x1) & frame.y.between(y0, y1)]
        chosen.extend(inside.id)
    for point in selection.get("pick") or []:
        if isinstance(point, dict) and point.get("id") and point["id"] not in chosen:
            chosen.append(point["id"])
    return chosen


def _table(report: ClusterReport) -> None:
    st.subheader(tr(TEXT, "table"))
    window = report.params.recent_months
    rows = [{
        tr(TEXT, "col_cluster"): c.id, tr(TEXT, "col_label"): c.label,
        tr(TEXT, "col_size"): c.size, tr(TEXT, "col_first"): (c.first_date or "")[:10],
        tr(TEXT, "col_last"): (c.last_date or "")[:10], tr(TEXT, "col_monthly"): list(c.monthly),
        tr(TEXT, "col_trend"): tr(TEXT, f"trend_{c.trend}"),
        tr(TEXT, "col_recent", n=window): c.recent, tr(TEXT, "col_previous", n=window): c.previous,
        tr(TEXT, "col_escalated"): None if c.escalated_share is None else c.escalated_share * 100,
        tr(TEXT, "col_products"): ", ".join(f"{v} ({n})" for v, n in c.top_products),
        tr(TEXT, "col_categories"): ", ".join(f"{v} ({n})" for v, n in c.top_categories),
        tr(TEXT, "col_flags"): ", ".join(tr(TEXT, f"flag_{f}") for f in c.flags),
    } for c in report.clusters]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="cl_table", column_config={
        tr(TEXT, "col_monthly"): st.column_config.BarChartColumn(tr(TEXT, "col_monthly"), y_min=0),
        tr(TEXT, "col_escalated"): st.column_config.NumberColumn(tr(TEXT, "col_escalated"),
                                                                 format="%.0f%%"),
    })


def _detail(report: ClusterReport) -> None:
    st.subheader(tr(TEXT, "detail"))
    ids = [c.id for c in report.clusters]
    if st.session_state.get("cl_pick") not in ids:  # a new selection may have fewer clusters
        st.session_state.pop("cl_pick", None)
    chosen = st.selectbox(tr(TEXT, "pick"), ids, key="cl_pick",
                          format_func=lambda i: f"{_name(report.clusters[i - 1])} "
                                                f"({report.clusters[i - 1].size})")
    cluster = report.clusters[(chosen or 1) - 1]
    window = report.params.recent_months
    st.markdown(f"#### {escape_markdown(_name(cluster))}")
    for flag in cluster.flags:
        (st.error if flag == GROWING_NO_MEASURE else st.warning)(tr(TEXT, f"flag_{flag}"))
    cols = st.columns(3)
    cols[0].metric(tr(TEXT, "period_value"), f"{(cluster.first_date or '')[:10]} – "
                                             f"{(cluster.last_date or '')[:10]}")
    cols[1].metric(tr(TEXT, "trend_value", n=window),
                   f"{cluster.recent} / {cluster.previous}", tr(TEXT, f"trend_{cluster.trend}"),
                   delta_color="off")
    cols[2].metric(tr(TEXT, "escalated_value"),
                   "—" if cluster.escalated_share is None else f"{cluster.escalated_share:.0%}")
    st.markdown(f"**{tr(TEXT, 'keywords')}**: "
                + ", ".join(escape_markdown(k) for k in cluster.keywords))
    monthly = pd.DataFrame({tr(TEXT, "month"): list(report.months),
                            tr(TEXT, "count"): list(cluster.monthly)})
    st.altair_chart(alt.Chart(monthly, title=tr(TEXT, "per_month")).mark_bar().encode(
        x=alt.X(f"{tr(TEXT, 'month')}:O"), y=alt.Y(f"{tr(TEXT, 'count')}:Q")).properties(height=180),
        width="stretch")
    st.markdown(f"**{tr(TEXT, 'representatives')}**")
    for case_id in cluster.representatives:
        case = report.cases[case_id]
        st.markdown(f"- **{escape_markdown(case.id)}** {escape_markdown((case.date or '')[:10])} "
                    f"{escape_markdown(case.title)}  \n{escape_markdown(case.content)}")
    _measures(report, cluster)
    st.markdown(f"**{tr(TEXT, 'cases')}**")
    st.dataframe(_case_frame(report, cluster.case_ids, extra=True), hide_index=True,
                 key="cl_cases")


def _measures(report: ClusterReport, cluster: Cluster) -> None:
    st.markdown(f"**{tr(TEXT, 'measures')}**")
    if not cluster.measures:
        st.info(tr(TEXT, "no_measures"))
    else:
        st.dataframe(pd.DataFrame([{tr(TEXT, "col_date"): (m.date or "")[:10],
                                    tr(TEXT, "col_measure_case"): m.case_id,
                                    tr(TEXT, "col_measure"): m.text} for m in cluster.measures]),
                     hide_index=True, key="cl_measures")
        first = next((m.date for m in cluster.measures if m.date), None)
        if first:
            st.caption(tr(TEXT, "after_first", date=first[:10], n=len(cluster.after_first_measure)))
    st.markdown(f"**{tr(TEXT, 'issues')}**")
    st.caption(tr(TEXT, "issues_help", n=report.params.min_recurrences))
    window = report.params.recent_months
    st.dataframe(pd.DataFrame([{
        tr(TEXT, "col_issue"): i.id, tr(TEXT, "col_label"): i.label,
        tr(TEXT, "col_size"): len(i.case_ids), tr(TEXT, "col_status"): tr(TEXT, f"status_{i.status}"),
        tr(TEXT, "col_first_measure"): (i.first_measure.date or "")[:10] if i.first_measure else "",
        tr(TEXT, "col_measure"): i.first_measure.text if i.first_measure else "",
        tr(TEXT, "col_after"): len(i.after_first_measure),
        tr(TEXT, "col_recent", n=window): i.recent, tr(TEXT, "col_previous", n=window): i.previous,
    } for i in cluster.issues]), hide_index=True, key="cl_issues")
    if GROWING_NO_MEASURE in cluster.flags and cluster.unaddressed:
        heading = tr(TEXT, "unaddressed", recent=cluster.unaddressed_recent,
                     previous=cluster.unaddressed_previous)
        st.markdown(f"**{heading}**")
        st.dataframe(_case_frame(report, cluster.unaddressed), hide_index=True, key="cl_unaddressed")


def _outliers(report: ClusterReport) -> None:
    st.subheader(tr(TEXT, "outliers"))
    if not report.outliers:
        st.caption(tr(TEXT, "no_outliers"))
        return
    st.caption(tr(TEXT, "outliers_help"))
    st.dataframe(_case_frame(report, report.outliers), hide_index=True, key="cl_outliers")


def _downloads(report: ClusterReport) -> None:
    st.subheader(tr(TEXT, "download"))
    cols = st.columns(3)
    # utf-8-sig: Excel on Japanese Windows reads BOM-less UTF-8 as Shift_JIS.
    cols[0].download_button(tr(TEXT, "dl_cases"), report.cases_csv().encode("utf-8-sig"),
                            "cluster_cases.csv", "text/csv", key="cl_dl_cases")
    cols[1].download_button(tr(TEXT, "dl_clusters"), report.clusters_csv().encode("utf-8-sig"),
                            "clusters.csv", "text/csv", key="cl_dl_clusters")
    cols[2].download_button(tr(TEXT, "dl_json"),
                            json.dumps(report.to_dict(), ensure_ascii=False, indent=1).encode(),
                            "clusters.json", "application/json", key="cl_dl_json")


def render(kb: KnowledgeBase) -> None:
    st.title(tr(TEXT, "title"))
    date_from, date_to, products, categories, n_clusters = _sidebar(kb)
    with st.spinner(tr(TEXT, "computing")):
        report = _cached_report(kb.stats().directory, kb.stats().state_version, date_from, date_to,
                                products, categories, n_clusters, kb)
    if not report.clusters:
        st.info(tr(TEXT, "empty"))
        return
    _overview(report)
    _map(report)
    _table(report)
    _detail(report)
    _outliers(report)
    _downloads(report)
