"""The app's pages by name, so one page can link or switch to another.

app.py registers the st.Page objects on every run; pages look them up here instead
of importing app.py (which would run it).
"""

from __future__ import annotations

import streamlit as st

_PAGES: dict[str, st.Page] = {}


def register(pages: dict[str, st.Page]) -> None:
    _PAGES.clear()
    _PAGES.update(pages)


def page(name: str) -> st.Page | None:
    """The page registered as `name`; None when a page runs alone (AppTest.from_function)."""
    return _PAGES.get(name)


def link(name: str, label: str, key_params: dict[str, str] | None = None,
         icon: str | None = None) -> None:
    """A link to page `name` with query parameters; plain text when the page is not registered."""
    target = page(name)
    if target is None:
        st.caption(label)
        return
    st.page_link(target, label=label, query_params=key_params, icon=icon)


def switch(name: str) -> None:
    """Go to page `name` (its own URL); used by the root page, which only hands over."""
    target = page(name)
    if target is not None:
        st.switch_page(target)
