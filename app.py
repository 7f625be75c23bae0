"""Streamlit entry point: `streamlit run app.py`.

Opens the knowledge base (indexes/default, or KB_INDEX_DIR) once per process;
an empty base is filled from the bundled sample ledger on first start. Pages
live in ui/, one module each, and only call the knowledge base.
"""

from __future__ import annotations

import streamlit as st

from kb import KBError, ensure_sample
from ui import admin, case, clusters, ledgers, manuals, nav, record, search
from ui.i18n import COMMON, LANGUAGES, tr
from ui.progress import progress_bar
from ui.state import knowledge_base
from ui.text import escape_markdown

st.set_page_config(page_title="クレーム事例ナレッジベース", page_icon="📒", layout="wide")
st.sidebar.radio(tr(COMMON, "language"), list(LANGUAGES), format_func=LANGUAGES.get,
                 horizontal=True, key="lang")

try:  # a damaged, read-only or full base says so (kb/storage/health.py), not a traceback
    kb = knowledge_base()
    if kb.stats().cases == 0:
        progress, bar = progress_bar(lambda stage, done, total: f"{tr(COMMON, 'building_sample')} "
                                                                f"{stage} {done}/{total}")
        ensure_sample(kb, progress=progress)
        bar.empty()
except KBError as exc:
    st.error(escape_markdown(str(exc)))
    st.stop()

# Every page has its own fixed path (/search, /record, ...), the same in both languages.
# Streamlit serves its default page at "/" only, so "/" is a hidden page that hands over
# to /search: bookmarks and links to /search then work, and the menu marks the page. Its
# own name (ROOT, never in the address bar) is one nobody types: no page can take it over.
ROOT = "_root"
pages = {
    "home": st.Page(lambda: nav.switch("search"), title=tr(search.TEXT, "nav"),
                    url_path=ROOT, default=True, visibility="hidden"),
    "search": st.Page(lambda: search.render(kb), title=tr(search.TEXT, "nav"),
                      icon=":material/search:", url_path="search"),
    "case": st.Page(lambda: case.render(kb), title=tr(case.TEXT, "nav"),
                    icon=":material/description:", url_path="case"),
    "record": st.Page(lambda: record.render(kb), title=tr(record.TEXT, "nav"),
                      icon=":material/edit_note:", url_path="record"),
    "clusters": st.Page(lambda: clusters.render(kb), title=tr(clusters.TEXT, "nav"),
                        icon=":material/hub:", url_path="clusters"),
    "manuals": st.Page(lambda: manuals.render(kb), title=tr(manuals.TEXT, "nav"),
                       icon=":material/menu_book:", url_path="manuals"),
    "ledgers": st.Page(lambda: ledgers.render(kb), title=tr(ledgers.TEXT, "nav"),
                       icon=":material/table_view:", url_path="ledgers"),
    "admin": st.Page(lambda: admin.render(kb), title=tr(admin.TEXT, "nav"),
                     icon=":material/admin_panel_settings:", url_path="admin"),
}
# Any other one-segment path (/nosuchpage, a mistyped bookmark) would open Streamlit's English
# "Page not found" dialog: it gets a hidden page of its own that hands over to /search too.
if stray := nav.unknown_path(st.context.url, {ROOT, *(p.url_path for p in pages.values())}):
    pages["stray"] = st.Page(lambda: nav.switch("search"), title=tr(search.TEXT, "nav"),
                             url_path=stray, visibility="hidden")
nav.register(pages)
try:
    st.navigation(list(pages.values())).run()
except KBError as exc:  # e.g. the disk filled up during a save: the message, not a traceback
    st.error(escape_markdown(str(exc)))
