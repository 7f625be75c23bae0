"""The hand-over note (issue 15, items 3 and 20): the cases the screen shows, real HTML for
print, only resolved cases under what worked, and the staff member's own fields."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from html.parser import HTMLParser

from ingest.records import Case
from kb import NoteFields, handover_html, handover_markdown
from kb.search.results import CaseHit, SearchResult

NOW = dt.datetime(2026, 12, 1, 10, 30)


def _result(n: int = 10, escalated: Callable[[int], bool] = lambda i: i % 3 == 0
            ) -> SearchResult:
    """n hits; statuses cycle 完了 / 保留 / 対応中; every third escalated by default."""
    statuses = ("完了", "保留", "対応中")
    hits = [CaseHit(Case(id=f"C-{i:02d}", content=f"荷物が届かない その{i}", title=f"未着{i}",
                         date="2024-05-01", cause="仕分けミス", response=f"再送した{i}",
                         prevention="検品強化" if i % 2 else "", escalated=escalated(i),
                         status=statuses[i % 3]), score=1.0 - i / 100)
            for i in range(n)]
    return SearchResult("荷物が届かない", "hybrid", hits, 12.0)


class _Tags(HTMLParser):
    """Which tags sit inside which: enough to tell a list from stray <li>s."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.li_parents: list[str] = []
        self.classes_used: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "li":
            self.li_parents.append(self.stack[-1] if self.stack else "")
        self.classes_used.update(v for k, v in attrs if k == "class" and v)
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass


def test_note_lists_every_case_the_screen_shows_with_the_same_counts() -> None:
    note = handover_markdown("荷物が届かない", "至急", _result(10), now=NOW)
    assert len(re.findall(r"^### \d+\. ", note, flags=re.M)) == 10
    assert "類似事例 10 件中 4 件が二次クレームに発展" in note  # 0, 3, 6, 9: as on the page
    shown = handover_markdown("荷物が届かない", "至急", _result(10), now=NOW, shown=3)
    assert len(re.findall(r"^### \d+\. ", shown, flags=re.M)) == 3
    assert "（画面に表示した 3 件）" in shown and "3 件中 1 件" in shown


def _worked(note: str) -> list[str]:
    if "## うまくいった対応" not in note:
        return []
    section = note.split("## うまくいった対応", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"\*\*(C-\d+)\*\*", section)


def test_what_worked_lists_only_resolved_cases_without_escalation() -> None:
    # 完了 are 0, 3, 6, 9; 保留 1, 4, 7; 対応中 2, 5, 8. Only 保留 ones escalated here.
    note = handover_markdown("荷物が届かない", "", _result(10, lambda i: i % 3 == 1), now=NOW)
    assert _worked(note) == ["C-00", "C-03", "C-06", "C-09"]  # not 対応中 (2, 5, 8) either
    # Every 完了 case escalated: nothing "worked", so no such section at all.
    assert _worked(handover_markdown("荷物が届かない", "", _result(10), now=NOW)) == []


def test_printable_page_is_html_not_markdown() -> None:
    page = handover_html("荷物が届かない", "至急", _result(10), now=NOW)
    text = re.sub(r"<[^>]+>", "", page.split("<body", 1)[1])
    assert "**" not in text and "&gt; " not in text and "\n> " not in text
    assert "<p class='warn'>注意：類似事例 10 件中 4 件" in page
    assert "<span class='flag'>二次クレームに発展</span>" in page
    tags = _Tags()
    tags.feed(page)
    assert tags.li_parents and set(tags.li_parents) == {"ul"}
    defined = set(re.findall(r"\.([a-z]+)\{", page))
    assert tags.classes_used <= defined and defined <= tags.classes_used  # no unused style


def test_note_fields_staff_order_and_what_was_said() -> None:
    fields = NoteFields(request="至急届けてほしい", staff="山田", order="ORD-2024-0001234",
                        said="配送業者に確認中とお伝えした")
    note = handover_markdown("荷物が届かない", fields, _result(2), now=NOW)
    assert "- **担当者**: 山田" in note and "- **注文番号**: ORD-2024-0001234" in note
    assert "## お客様にお伝え済みの内容\n\n配送業者に確認中とお伝えした" in note
    blank = handover_markdown("荷物が届かない", NoteFields(), _result(2), now=NOW)
    assert "- **担当者**: （未記入）" in blank
    english = handover_markdown("late parcel", fields, _result(2), lang="en", now=NOW)
    assert "- **Staff member**: 山田" in english and "Already told the customer" in english
