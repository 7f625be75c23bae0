"""Record-form drafts (issue 16, item 1): unguessable tokens, bound to the browser that typed
them, stored masked, gone after KB_DRAFT_DAYS. Real SQLite; the app through streamlit.testing."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb import KnowledgeBase, KnowledgeBaseError, new_draft_token
from ui.browser_id import owner_from_cookie, xsrf_token

PERSONAL = {"phone": "090-1234-5678", "email": "taro.yamada@example.co.jp",
            "card": "4111 1111 1111 1111"}
TYPED = {"content": f"電話 {PERSONAL['phone']}、メール {PERSONAL['email']}、"
                    f"カード {PERSONAL['card']} で二重請求された", "cause": "決済の二重計上",
         "date": "2024-05-01"}


def _raw_rows(root: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(root / "kb.sqlite3") as db:
        return db.execute("SELECT id, data, updated_at FROM drafts").fetchall()


def test_a_draft_is_stored_masked_and_only_the_browser_that_typed_it_reads_it(
        tmp_path: Path) -> None:
    root = tmp_path / "kb"
    token = new_draft_token()
    assert len(token) >= 32 and token != new_draft_token()
    with KnowledgeBase.open(root) as kb:
        assert kb.save_draft(token, TYPED, owner="browser:A")
        mine = kb.load_draft(token, owner="browser:A")
        theirs = kb.load_draft(token, owner="browser:B")  # the same URL on another computer
    assert theirs is None
    assert mine is not None and "＜電話番号＞" in mine["content"] and "＜メール＞" in mine["content"]
    assert "＜カード番号＞" in mine["content"] and mine["cause"] == "決済の二重計上"
    stored = repr(_raw_rows(root))
    assert token not in stored  # the row's key is a hash of token and browser
    for value in PERSONAL.values():
        assert value not in stored


def test_hand_made_or_short_tokens_are_never_looked_up(tmp_path: Path) -> None:
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        assert kb.load_draft("abc", owner="browser:A") is None
        with pytest.raises(KnowledgeBaseError, match="draft token"):
            kb.save_draft("abc", TYPED, owner="browser:A")
    assert _raw_rows(tmp_path / "kb") == []


def test_abandoned_drafts_expire_after_seven_days(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    old, new = new_draft_token(), new_draft_token()
    with KnowledgeBase.open(root) as kb:
        kb.save_draft(old, TYPED, owner="browser:A")
    eight_days_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=8)).isoformat(timespec="seconds")
    with sqlite3.connect(root / "kb.sqlite3") as db:
        db.execute("UPDATE drafts SET updated_at = ?", (eight_days_ago,))
    with KnowledgeBase.open(root) as kb:
        assert kb.load_draft(old, owner="browser:A") is None  # expired: never shown again
        kb.save_draft(new, {"content": "別の下書き"}, owner="browser:A")  # any save sweeps
    rows = _raw_rows(root)
    assert len(rows) == 1 and "別の下書き" in rows[0][1]


def test_the_owner_is_the_token_inside_streamlits_xsrf_cookie() -> None:
    """The cookie is re-masked on every page load; the owner must not change with the mask."""
    token = bytes(range(16))
    cookies = []
    for mask in (b"\x01\x02\x03\x04", b"\xff\x00\xaa\x55"):
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
        cookies.append(f"2|{mask.hex()}|{masked.hex()}|1764600000")
    assert xsrf_token(cookies[0]) == xsrf_token(cookies[1]) == token
    assert owner_from_cookie(cookies[0]) == owner_from_cookie(cookies[1])
    other = bytes(b ^ 1 for b in token)  # another browser's token, under the same mask
    assert owner_from_cookie(f"2|01020304|{other.hex()}|1764600000") != owner_from_cookie(cookies[0])
    for junk in (None, "", "2|zz|00|1", "1|00|00|1", "2|01020304|00|1"):
        assert owner_from_cookie(junk) is None


def _record_page() -> None:
    from ui import record
    from ui.state import knowledge_base

    record.render(knowledge_base())


def test_another_session_opening_the_same_draft_url_gets_an_empty_form(tmp_path: Path) -> None:
    at = AppTest.from_function(_record_page, default_timeout=60).run()
    assert not at.exception, at.exception
    token = at.query_params["draft"]
    if isinstance(token, list):
        token = token[0]
    assert len(token) >= 32
    at.text_area(key="rec_content").input(TYPED["content"]).run()
    assert not at.exception, at.exception

    stranger = AppTest.from_function(_record_page, default_timeout=60)
    stranger.query_params["draft"] = token
    stranger.run()
    assert not stranger.exception, stranger.exception
    assert stranger.text_area(key="rec_content").value == ""
    assert not [i for i in stranger.info if "下書きを復元" in i.value]

    same_browser = AppTest.from_function(_record_page, default_timeout=60)
    same_browser.query_params["draft"] = token
    same_browser.session_state["_kb_browser_secret"] = at.session_state["_kb_browser_secret"]
    same_browser.run()
    restored = same_browser.text_area(key="rec_content").value
    assert "＜電話番号＞" in restored and PERSONAL["phone"] not in restored  # masked when stored
