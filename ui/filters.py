"""Sidebar filter widgets shared by the pages."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from kb import KnowledgeBase


def period_filter(kb: KnowledgeBase, label: str, key: str) -> tuple[str | None, str | None]:
    """A date range over the base's cases; (None, None) while it spans everything."""
    first, last = kb.date_range()
    if not (first and last):
        return None, None
    lo, hi = dt.date.fromisoformat(first[:10]), dt.date.fromisoformat(last[:10])
    period = st.sidebar.date_input(label, value=(lo, hi), min_value=lo, max_value=hi, key=key)
    if isinstance(period, tuple) and len(period) == 2 and period != (lo, hi):
        return period[0].isoformat(), period[1].isoformat()
    return None, None
