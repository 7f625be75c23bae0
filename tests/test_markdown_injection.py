"""Ledger text never becomes markup (issue 16, item 4): the case page's title, the retire
checkbox and the feedback toast show a hostile title and id as text (streamlit.testing)."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ingest.records import Case
from kb import KnowledgeBase
from ui.text import escape_markdown

BEACON = '<img src="http://127.0.0.1:9/beacon.png">'
HOSTILE_TITLE = f"{BEACON} [ここをクリック](http://phish.example/) ![x](data:image/png;base64,AA)"
HOSTILE_ID = "C-1](http://phish.example/)"
# Markdown or HTML that is live: a character that opens markup, not preceded by a backslash.
LIVE = re.compile(r"(?<!\\)[<>\[\]()!]")


def _base(root: Path) -> None:
    with KnowledgeBase.open(root) as kb:
        kb.ingest_cases([Case(id=HOSTILE_ID, title=HOSTILE_TITLE,
                              content="注文した荷物が届かない。追跡番号も動いていない。",
                              date="2024-01-10")])


def _case_page() -> None:
    from ui import case
    from ui.state import knowledge_base

    case.render(knowledge_base())


def _search_page() -> None:
    from ui import search
    from ui.state import knowledge_base

    search.render(knowledge_base())


def test_the_case_page_title_shows_a_hostile_title_as_text(tmp_path: Path) -> None:
    _base(tmp_path / "kb")
    at = AppTest.from_function(_case_page, default_timeout=60)
    at.query_params["id"] = HOSTILE_ID
    at.run()
    assert not at.exception, at.exception
    shown = at.title[0].value
    assert shown == escape_markdown(HOSTILE_TITLE)
    assert not LIVE.findall(shown), shown
    assert "http://127.0.0.1:9/beacon.png" in shown.replace("\\", "")  # the text is all there


def test_the_feedback_toast_shows_a_hostile_id_as_text(tmp_path: Path) -> None:
    _base(tmp_path / "kb")
    at = AppTest.from_function(_search_page, default_timeout=60).run()
    at.text_area(key="query").input("荷物が届かない").run()
    at.button(key="search").click().run()
    assert not at.exception, at.exception
    at.button(key=f"fb_1_{HOSTILE_ID}").click().run()
    assert not at.exception, at.exception
    toasts = [t.value for t in at.toast]
    assert toasts and HOSTILE_ID in toasts[0].replace("\\", "")
    assert not LIVE.findall(toasts[0]), toasts[0]
