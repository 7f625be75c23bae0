"""The app's pages by name, so one page can link or switch to another.

app.py registers the st.Page objects on every run; pages look them up here instead
of importing app.py (which would run it).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

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


def unknown_path(url: str | None, known: set[str]) -> str | None:
    """The page path the browser asked for (`st.context.url`) when it is none of `known`:
    the app then adds a hidden page at that path which hands over to the search, instead of
    Streamlit's English "Page not found" dialog. None for a known path, the root, or a nested
    path (a/b), which no page can have (Streamlit refuses '/' in a page's path)."""
    if not url:
        return None
    path = unquote(urlsplit(url).path).strip("/")  # Streamlit matches /%E6%A4%9C… as /検…
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base):].strip("/")
    return path if path and path not in known and "/" not in path else None
