"""The case form's widgets, shared by the record page and the edit form on the case page.

Values live in st.session_state under `prefix + field`, so a page can fill them from
a draft, a search or a stored case before the widgets are drawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import streamlit as st

from ingest.case_form import (
    METADATA_FIELDS,
    REQUIRED,
    SEVERITIES,
    STATUSES,
    metadata_value,
    parse_when,
)
from ingest.records import Case
from ingest.values import status_of
from kb import KnowledgeBase
from ui.i18n import field_label, tr
from ui.text import escape_markdown

TEXT: dict[str, tuple[str, str]] = {
    "date": ("受付日", "Date received"),
    "time": ("受付時刻", "Time received"),
    "department": ("担当部署", "Department"),
    "received_by": ("受付者", "Received by"),
    "received_by_help": ("お申し出を受け付けた担当者。氏名は個人情報として、保存時に＜氏名＞に"
                         "置き換えられます（台帳の担当者・対応者の列と同じ扱い）。",
                         "Who took the complaint. A name is personal data: it is stored as "
                         "＜氏名＞, as the ledgers' 担当者 and 対応者 columns are."),
    "severity_none": ("未設定", "Not set"),
    "required_note": ("* は必須項目です。", "* marks a required field."),
    "escalated_unknown": ("不明", "Unknown"),
    "escalated_no": ("なし", "No"),
    "escalated_yes": ("あり（二次クレーム）", "Yes (escalated)"),
    "choose_or_type": ("選択または入力", "Choose or type"),
    "required": ("{field}：必須項目です。", "{field}: required."),
    "required_when_done": ("{field}：対応状況が「対応済」のときは必須です。",
                           "{field}: required when the status is 対応済 (handled)."),
    "content_help": ("お客様のお申し出を、聞いたとおりに書いてください。",
                     "What the customer said, as they said it."),
}
ESCALATED = {"unknown": None, "no": False, "yes": True}
_LONG = ("content", "customer_request", "cause", "response", "prevention")
_CHOICE = ("channel", "product", "category")
_SHORT = ("title", "status", "severity", *METADATA_FIELDS)


def _label(name: str) -> str:
    base = tr(TEXT, name) if name in ("date", "time", *METADATA_FIELDS) else field_label(name)
    return f"{base} *" if name in REQUIRED else base


def case_facts(case: Case) -> list[str]:
    """The short facts of a case, in one order on cards and the case page: 受付日, 分類, 商品,
    受付経路, 重要度, 担当部署, 受付者 (labelled where a bare value would not say what it is)."""
    who = [f"{tr(TEXT, n)} {value}" for n in METADATA_FIELDS if (value := metadata_value(case, n))]
    severity = [f"{field_label('severity')} {case.severity}"] if case.severity else []
    return [x for x in (case.date or "", case.category, case.product, case.channel) if x] + \
        severity + who


def values_from_case(case: Case) -> dict[str, object]:
    """Form values for a stored case (the edit form starts from them)."""
    day, time = parse_when(case.date)
    flag = next(k for k, v in ESCALATED.items() if v == case.escalated)
    return {"date": day, "time": time, "escalated": flag,
            **{n: getattr(case, n) for n in (*_LONG, *_CHOICE, "title", "severity")},
            "status": status_of(case.status) or STATUSES[0],
            **{n: metadata_value(case, n) for n in METADATA_FIELDS}}


def to_draft(values: dict[str, object]) -> dict[str, object]:
    """JSON-ready form values (dates as ISO text)."""
    return {k: v.isoformat() if isinstance(v, dt.date | dt.time) else v for k, v in values.items()}


def from_draft(data: dict[str, object]) -> dict[str, object]:
    out = dict(data)
    if isinstance(out.get("date"), str):
        out["date"] = dt.date.fromisoformat(out["date"])
    if isinstance(out.get("time"), str):
        out["time"] = dt.time.fromisoformat(out["time"])
    return out


def preset(prefix: str, values: dict[str, object]) -> None:
    """Put values into the widgets' state before they are drawn."""
    for name, value in values.items():
        st.session_state[prefix + name] = value


def reset(prefix: str) -> None:
    """Empty the form before it is drawn. Values are set, not deleted: a browser keeps showing
    what was typed in a widget whose state was merely deleted."""
    preset(prefix, {"date": dt.date.today(), "time": None, "escalated": "unknown",
                    "status": STATUSES[0], "severity": "",
                    **dict.fromkeys((*_LONG, "title", *METADATA_FIELDS), ""),
                    **dict.fromkeys(_CHOICE)})


def current(prefix: str) -> dict[str, object]:
    """The form's values as the widgets hold them now."""
    names = ("date", "time", "escalated", *_SHORT, *_LONG, *_CHOICE)
    return {n: st.session_state.get(prefix + n) for n in names}


def form_values(prefix: str) -> dict[str, object]:
    """Values for `ingest.case_form.case_from_form` (escalated as True/False/None)."""
    values = current(prefix)
    values["escalated"] = ESCALATED.get(str(values.get("escalated")))
    return values


def draw(kb: KnowledgeBase, prefix: str, on_change: Callable[[], None] | None = None) -> None:
    """The widgets, Japanese labels first, required ones marked with *."""
    st.caption(escape_markdown(tr(TEXT, "required_note")))  # a leading * would be a bullet
    facets = kb.facets()
    st.session_state.setdefault(prefix + "date", dt.date.today())
    left, right = st.columns(2)
    left.date_input(_label("date"), key=prefix + "date", on_change=on_change,
                    format="YYYY/MM/DD")
    st.session_state.setdefault(prefix + "time", None)
    right.time_input(_label("time"), key=prefix + "time", on_change=on_change)
    columns = st.columns(3)
    for column, name in zip(columns, _CHOICE, strict=True):
        options = [v for v, _ in facets.get(name, [])]
        held = st.session_state.get(prefix + name)
        if held and held not in options:
            options.append(held)
        st.session_state.setdefault(prefix + name, None)
        column.selectbox(_label(name), options, key=prefix + name,
                         accept_new_options=True, placeholder=tr(TEXT, "choose_or_type"),
                         on_change=on_change)
    _who_and_how_serious(prefix, on_change)
    st.text_input(field_label("title"), key=prefix + "title", on_change=on_change)
    st.text_area(_label("content"), key=prefix + "content", height=120, on_change=on_change,
                 help=tr(TEXT, "content_help"))
    st.text_area(_label("customer_request"), key=prefix + "customer_request", height=68,
                 on_change=on_change)
    for name in ("cause", "response", "prevention"):
        st.text_area(_label(name), key=prefix + name, height=90, on_change=on_change)
    left, right = st.columns(2)
    st.session_state.setdefault(prefix + "escalated", "unknown")
    left.radio(field_label("escalated"), list(ESCALATED), key=prefix + "escalated",
               format_func={k: tr(TEXT, f"escalated_{k}") for k in ESCALATED}.__getitem__,
               horizontal=True,
               on_change=on_change)
    statuses = list(STATUSES)
    held = st.session_state.get(prefix + "status")
    if held and held not in statuses:
        statuses.append(held)
    st.session_state.setdefault(prefix + "status", statuses[0])
    right.selectbox(field_label("status"), statuses, key=prefix + "status",
                    accept_new_options=True, on_change=on_change)


def _who_and_how_serious(prefix: str, on_change: Callable[[], None] | None) -> None:
    """重要度, 担当部署 and 受付者: one row under the choices."""
    severity, department, received_by = st.columns(3)
    options = ["", *SEVERITIES]
    held = st.session_state.get(prefix + "severity")
    if held and held not in options:
        options.append(held)
    st.session_state.setdefault(prefix + "severity", "")
    unset = tr(TEXT, "severity_none")  # looked up now: format_func may run outside this run
    severity.selectbox(field_label("severity"), options, key=prefix + "severity",
                       format_func=lambda v: v or unset, on_change=on_change)
    st.session_state.setdefault(prefix + "department", "")
    department.text_input(_label("department"), key=prefix + "department", on_change=on_change)
    st.session_state.setdefault(prefix + "received_by", "")
    received_by.text_input(_label("received_by"), key=prefix + "received_by", on_change=on_change,
                           help=tr(TEXT, "received_by_help"))


def show_problems(problems: dict[str, str]) -> None:
    """One error box naming each field that needs attention."""
    lines = [tr(TEXT, code, field=_label(name).rstrip(" *")) for name, code in problems.items()]
    st.error("\n".join(f"- {line}" for line in lines))
