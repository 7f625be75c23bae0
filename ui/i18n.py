"""Japanese-first UI text with an English switch.

Each page keeps its own table {key: (日本語, English)} and calls `tr(table, key)`;
labels shared by several pages live in COMMON. The language is chosen once in the
sidebar (app.py) and kept in the session.
"""

from __future__ import annotations

import streamlit as st

LANGUAGES = {"ja": "日本語", "en": "English"}

COMMON: dict[str, tuple[str, str]] = {
    "app_title": ("クレーム事例ナレッジベース", "Complaint knowledge base"),
    "language": ("表示言語", "Language"),
    "title": ("件名", "Title"),
    "content": ("クレーム内容", "Complaint"),
    "customer_request": ("顧客の要望", "Customer request"),
    "cause": ("原因", "Cause"),
    "response": ("対応", "Response"),
    "prevention": ("再発防止策", "Prevention"),
    "category": ("分類", "Category"),
    "product": ("商品", "Product"),
    "channel": ("受付経路", "Channel"),
    "date": ("受付日", "Date"),
    "severity": ("重要度", "Severity"),
    "status": ("対応状況", "Status"),
    "escalated": ("二次クレーム", "Escalated"),
    "id": ("管理番号", "Case ID"),
    "none": ("—", "—"),
    "building_sample": ("サンプル台帳からナレッジベースを作成中…",
                        "Building the knowledge base from the sample ledger…"),
}


def lang() -> str:
    """The session's language: 'ja' (default) or 'en'."""
    return st.session_state.get("lang", "ja")


def tr(table: dict[str, tuple[str, str]], key: str, **values: object) -> str:
    """Text for `key` in the session's language, formatted with `values`."""
    ja, en = table[key] if key in table else COMMON[key]
    text = en if lang() == "en" else ja
    return text.format(**values) if values else text


def field_label(name: str) -> str:
    return tr(COMMON, name)


def select_all() -> bool:
    """Whether a multiselect offers Streamlit's "Select all": its label is English only, so
    the Japanese UI leaves it out (Streamlit cannot translate it; README, 画面の英語表記)."""
    return lang() == "en"
