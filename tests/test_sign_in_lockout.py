"""Wrong manager passwords are stopped and audited (issue 16, item 6): per client, then for
everyone under a flood, with a wait that doubles; the app says so and the audit log has each
failed sign-in (streamlit.testing on a real base)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb import KnowledgeBase, SignInThrottle
from kb.passwords import hash_password

PASSWORD = "kanri-2024!"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_waits_after_five_misses_twice_as_long_after_each_more() -> None:
    clock = Clock()
    guard = SignInThrottle(clock=clock)
    for _ in range(5):
        assert guard.wait_left("10.0.0.5") == 0
        guard.failed("10.0.0.5")
    assert guard.wait_left("10.0.0.5") == 30
    assert guard.wait_left("10.0.0.6") == 0  # another client is not held up
    clock.now += 30
    assert guard.wait_left("10.0.0.5") == 0
    guard.failed("10.0.0.5")
    assert guard.wait_left("10.0.0.5") == 60
    guard.succeeded("10.0.0.5")
    assert guard.wait_left("10.0.0.5") == 0


def test_a_flood_from_many_clients_stops_everyone_for_a_while() -> None:
    clock = Clock()
    guard = SignInThrottle(clock=clock)
    for n in range(50):
        guard.failed(f"10.0.1.{n}")
    assert guard.wait_left("192.168.0.9") == 900
    clock.now += 901
    assert guard.wait_left("192.168.0.9") == 0


def _admin_page() -> None:
    from ui import admin
    from ui.state import knowledge_base

    admin.render(knowledge_base())


@pytest.fixture
def protected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from ui import auth

    monkeypatch.setenv("KB_MANAGER_PASSWORD_HASH", hash_password(PASSWORD))
    KnowledgeBase.open(tmp_path / "kb").close()
    auth._throttle.cache_clear()  # the process's failed sign-ins: this test's only
    yield tmp_path / "kb"
    auth._throttle.cache_clear()


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="admin_auth_name").input(name)
    at.text_input(key="admin_auth_password").input(password)
    return at.button(key="FormSubmitter:admin_auth_form-サインイン").click().run()


def test_the_sixth_wrong_password_locks_the_form_and_each_miss_is_audited(protected: Path) -> None:
    at = AppTest.from_function(_admin_page, default_timeout=60).run()
    for attempt in range(5):
        _sign_in(at, "侵入者", f"guess-{attempt}")
        assert not at.exception, at.exception
        assert at.error[0].value == "パスワードが違います。"
    _sign_in(at, "侵入者", PASSWORD)  # even the right password waits now
    assert at.error[0].value == "サインインの失敗が続いたため、30 秒後まで受け付けません。"
    assert not at.dataframe  # still not signed in
    with KnowledgeBase.open(protected) as kb:
        failed = kb.audit_events(20, action="sign_in_failed")
    assert len(failed) == 5 and {e.actor for e in failed} == {"侵入者"}
    assert {e.target for e in failed} == {"127.0.0.1"}
