"""Clusters page: groups of similar past complaints for the monthly quality / CS review.

Thin: kb.clusters does the work; this page picks the selection, shows the result and lets it
be downloaded. Ledger text is shown as text (tables, or Markdown-escaped).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from urllib.parse import quote

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
from ui.clusters_text import TEXT
from ui.filters import period_filter
from ui.i18n import select_all, tr
from ui.progress import progress_bar
from ui.state import default_cluster_params
from ui.text import escape_markdown

# Saturated colours that stay apart on white (category20's pale halves were hard to see).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39",
           "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363")


# ---- computing (kb.clusters caches per base version, selection and parameters) ----
def _report(kb: KnowledgeBase, filters: Filters, params: ClusterParams) -> ClusterReport:
    """The report, with a bar naming each stage while it is computed (a cached or
    background-computed result shows at once)."""
    progress, bar = progress_bar(lambda stage, done, total: f"{tr(TEXT, 'computing')} {stage}")
    try:
        return cluster_cases(kb, filters, params, progress=progress)
    finally:
        bar.empty()


def _reference(kb: KnowledgeBase, date_to: str | None) -> str | None:
    """The date trends count back from: the end of the chosen period (the newest case while
    none is chosen), or any day up to today; one case dated today no longer moves it unseen."""
    first, last = kb.date_range()
    if not (first and last):
        return None
    default = dt.date.fromisoformat((date_to or last)[:10])
    low, high = dt.date.fromisoformat(first[:10]), max(dt.date.today(), default)
    picked = st.sidebar.date_input(tr(TEXT, "reference"), value=default, min_value=low,
                                   max_value=high, key=f"cl_reference_{default.isoformat()}",
                                   help=tr(TEXT, "reference_help"))
    return picked.isoformat() if isinstance(picked, dt.date) else None


def _sidebar(kb: KnowledgeBase) -> tuple[str | None, str | None, tuple[str, ...], tuple[str, ...], int]:
    st.sidebar.header(tr(TEXT, "filters"))
    facets = kb.facets()
    date_from, date_to = period_filter(kb, tr(TEXT, "period"), "cl_period")
    products = st.sidebar.multiselect(tr(TEXT, "product"), [v for v, _ in facets["product"]],
                                      key="cl_product", placeholder=tr(TEXT, "choose"),
                                      select_all=select_all())
    categories = st.sidebar.multiselect(tr(TEXT, "category"), [v for v, _ in facets["category"]],
                                        key="cl_category", placeholder=tr(TEXT, "choose"),
                                        select_all=select_all())
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
    window = report.params.recent_months
    if len(report.months) >= window:
        st.caption(tr(TEXT, "reference_note", date=report.params.reference or "—", n=window,
                      start=report.months[-window], end=report.months[-1]))
    if growing:
        st.error(tr(TEXT, "warn_growing", names=", ".join(escape_markdown(_name(c)) for c in growing)))
    if continuing:
        # Most recurrences first: the clusters whose measures failed most often lead the list.
        worst = sorted(continuing, key=lambda c: -sum(len(i.after_first_measure) for i in c.issues
                                                      if i.status == "continues"))
        names = ", ".join(escape_markdown(_name(c)) + _rates(c) for c in worst[:5])
        more = tr(TEXT, "and_more", n=len(worst) - 5) if len(worst) > 5 else ""
        st.warning(tr(TEXT, "warn_continues", names=names + more))
    stopped = [f"{i.id} {i.label}" for c in report.clusters for i in c.issues if i.status == "stopped"]
    if stopped:
        st.success(tr(TEXT, "ok_stopped", names=", ".join(escape_markdown(s) for s in stopped)))


def _rates(cluster: Cluster) -> str:
    """「（対策前 0.7 → 対策後 0.9 件/月）」 for the cluster's issue that recurs most."""
    recurring = [i for i in cluster.issues if i.status == "continues" and i.recurrence]
    if not recurring:
        return ""
    rec = max(recurring, key=lambda i: i.recurrence.after).recurrence
    return tr(TEXT, "rates", before=rec.before_rate, after=rec.after_rate)


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


def _case_table(frame: pd.DataFrame, key: str) -> None:
    """Cases as a full-width table whose ids open the case page (case?id=…)."""
    id_column = tr(TEXT, "col_id")
    frame = frame.copy()
    if id_column in frame:
        frame[id_column] = [f"case?id={quote(str(i))}" for i in frame[id_column]]
    st.dataframe(frame, hide_index=True, key=key, width="stretch", column_config={
        id_column: st.column_config.LinkColumn(id_column, display_text=r"case\?id=(.*)$"),
        tr(TEXT, "col_content"): st.column_config.TextColumn(tr(TEXT, "col_content"),
                                                             width="large")})


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
            color=alt.Color("cluster:N", sort=order, scale=alt.Scale(range=list(PALETTE)),
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
        _case_table(_case_frame(report, chosen), "cl_selected")
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
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="cl_table", width="stretch", column_config={
        tr(TEXT, "col_monthly"): st.column_config.BarChartColumn(tr(TEXT, "col_monthly"), y_min=0),
        tr(TEXT, "col_escalated"): st.column_config.NumberColumn(tr(TEXT, "col_escalated"),
                                                                 format="%.0f%%"),
    })


def _detail(report: ClusterReport) -> None:
    st.subheader(tr(TEXT, "detail"))
    ids = [c.id for c in report.clusters]
    if st.session_state.get("cl_pick") not in ids:  # a new selection may have fewer clusters
        st.session_state.pop("cl_pick", None)
    by_id = {c.id: c for c in report.clusters}  # numbers can have gaps (kb/clusters/ids.py)
    chosen = st.selectbox(tr(TEXT, "pick"), ids, key="cl_pick",
                          format_func=lambda i: f"{_name(by_id[i])} ({by_id[i].size})")
    cluster = by_id.get(chosen, report.clusters[0])
    window = report.params.recent_months
    st.markdown(f"#### {escape_markdown(_name(cluster))}")
    for flag in cluster.flags:
        (st.error if flag == GROWING_NO_MEASURE else st.warning)(tr(TEXT, f"flag_{flag}"))
    # The period as two figures (first, last): one "2023-04-05 – 2025-09-26" was cut off.
    # The trend's arrow follows the trend; a steady one has none.
    cols = st.columns(4)
    cols[0].metric(tr(TEXT, "col_first"), (cluster.first_date or "—")[:10])
    cols[1].metric(tr(TEXT, "col_last"), (cluster.last_date or "—")[:10])
    arrow = {"growing": "up", "shrinking": "down"}.get(cluster.trend, "off")
    cols[2].metric(tr(TEXT, "trend_value", n=window),
                   f"{cluster.recent} / {cluster.previous}", tr(TEXT, f"trend_{cluster.trend}"),
                   delta_color="off", delta_arrow=arrow)
    cols[3].metric(tr(TEXT, "escalated_value"),
                   "—" if cluster.escalated_share is None else f"{cluster.escalated_share:.0%}")
    st.markdown(f"**{tr(TEXT, 'keywords')}**: "
                + ", ".join(escape_markdown(k) for k in cluster.keywords))
    monthly = pd.DataFrame({tr(TEXT, "month"): list(report.months),
                            tr(TEXT, "count"): list(cluster.monthly)})
    # Whole-number ticks, and a plot tall enough for them: the rotated month labels took most
    # of the old 180 px, and the y axis kept a lone 0.
    y_axis = alt.Axis(tickMinStep=1, format="d")
    st.altair_chart(alt.Chart(monthly, title=tr(TEXT, "per_month")).mark_bar().encode(
        x=alt.X(f"{tr(TEXT, 'month')}:O"),
        y=alt.Y(f"{tr(TEXT, 'count')}:Q", axis=y_axis,
                scale=alt.Scale(domainMin=0, nice=True))).properties(height=320),
        width="stretch")
    st.markdown(f"**{tr(TEXT, 'representatives')}**")
    for case_id in cluster.representatives:
        case = report.cases[case_id]
        st.markdown(f"- **{escape_markdown(case.id)}** {escape_markdown((case.date or '')[:10])} "
                    f"{escape_markdown(case.title)}  \n{escape_markdown(case.content)}")
    _measures(report, cluster)
    st.markdown(f"**{tr(TEXT, 'cases')}**")
    _case_table(_case_frame(report, cluster.case_ids, extra=True), "cl_cases")


def _measures(report: ClusterReport, cluster: Cluster) -> None:
    st.markdown(f"**{tr(TEXT, 'measures')}**")
    if not cluster.measures:
        st.info(tr(TEXT, "no_measures"))
    else:
        st.dataframe(pd.DataFrame([{tr(TEXT, "col_date"): (m.date or "")[:10],
                                    tr(TEXT, "col_measure_case"): m.case_id,
                                    tr(TEXT, "col_measure"): m.text} for m in cluster.measures]),
                     hide_index=True, key="cl_measures", width="stretch")
        first = next((m.date for m in cluster.measures if m.date), None)
        if first:
            st.caption(tr(TEXT, "after_first", date=first[:10], n=len(cluster.after_first_measure)))
    st.markdown(f"**{tr(TEXT, 'issues')}**")
    st.caption(tr(TEXT, "issues_help", n=report.params.min_recurrences,
                  ratio=report.params.recurrence_ratio))
    window = report.params.recent_months
    st.dataframe(pd.DataFrame([{
        tr(TEXT, "col_issue"): i.id, tr(TEXT, "col_label"): i.label,
        tr(TEXT, "col_size"): len(i.case_ids), tr(TEXT, "col_status"): tr(TEXT, f"status_{i.status}"),
        tr(TEXT, "col_first_measure"): (i.first_measure.date or "")[:10] if i.first_measure else "",
        tr(TEXT, "col_measure"): i.first_measure.text if i.first_measure else "",
        tr(TEXT, "col_after"): len(i.after_first_measure),
        tr(TEXT, "col_rate_before"): round(i.recurrence.before_rate, 2) if i.recurrence else None,
        tr(TEXT, "col_rate_after"): round(i.recurrence.after_rate, 2) if i.recurrence else None,
        tr(TEXT, "col_recent", n=window): i.recent, tr(TEXT, "col_previous", n=window): i.previous,
    } for i in cluster.issues]), hide_index=True, key="cl_issues", width="stretch")
    if GROWING_NO_MEASURE in cluster.flags and cluster.unaddressed:
        heading = tr(TEXT, "unaddressed", recent=cluster.unaddressed_recent,
                     previous=cluster.unaddressed_previous)
        st.markdown(f"**{heading}**")
        _case_table(_case_frame(report, cluster.unaddressed), "cl_unaddressed")


def _outliers(report: ClusterReport) -> None:
    st.subheader(tr(TEXT, "outliers"))
    if not report.outliers:
        st.caption(tr(TEXT, "no_outliers"))
        return
    st.caption(tr(TEXT, "outliers_help"))
    _case_table(_case_frame(report, report.outliers), "cl_outliers")


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
    reference = _reference(kb, date_to)
    report = _report(kb, Filters(date_from, date_to, categories=categories, products=products),
                     dataclasses.replace(default_cluster_params(kb), n_clusters=n_clusters or None,
                                         reference=reference))
    if not report.clusters:
        st.info(tr(TEXT, "empty"))
        return
    _overview(report)
    _map(report)
    _table(report)
    _detail(report)
    _outliers(report)
    _downloads(report)
