"""Manager sign-in in the app: staff read, managers change; the audit log names who did it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb import KnowledgeBase
from kb.passwords import hash_password

PASSWORD = "kanri-2024!"


def _manuals_page() -> None:
    from ui import manuals
    from ui.state import knowledge_base

    manuals.render(knowledge_base())


def _admin_page() -> None:
    from ui import admin
    from ui.state import knowledge_base

    admin.render(knowledge_base())


@pytest.fixture
def base(tmp_path: Path) -> Path:
    root = tmp_path / "kb"  # conftest points KB_INDEX_DIR here
    (tmp_path / "faq.md").write_text("# よくある質問\n\n返品は七日以内。\n", encoding="utf-8")
    with KnowledgeBase.open(root) as kb:
        kb.ingest_document(tmp_path / "faq.md")
    return root


@pytest.fixture
def protected(base: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KB_MANAGER_PASSWORD_HASH", hash_password(PASSWORD))
    return base


def _sign_in(at: AppTest, key: str, name: str, password: str) -> AppTest:
    at.text_input(key=f"{key}_name").input(name)
    at.text_input(key=f"{key}_password").input(password)
    return at.button(key=f"FormSubmitter:{key}_form-サインイン").click().run()


def test_without_a_password_this_computer_manages_under_a_warning(base: Path) -> None:
    at = AppTest.from_function(_manuals_page, default_timeout=60).run()
    assert not at.exception
    assert any("manager password not set" in w.value for w in at.warning)
    assert at.get("file_uploader")  # upload offered
    at.checkbox(key="doc_delete_confirm").check().run()
    at.button(key="doc_delete").click().run()
    with KnowledgeBase.open(base) as kb:
        assert kb.documents() == []
        assert kb.audit_events(1)[0].actor.endswith("(local)")


def test_staff_see_manuals_but_no_upload_or_delete_until_signed_in(protected: Path) -> None:
    at = AppTest.from_function(_manuals_page, default_timeout=60).run()
    assert not at.exception
    assert not at.warning
    assert list(at.dataframe[0].value["ファイル名"]) == ["faq.md"]  # staff can read
    assert not at.get("file_uploader")
    with pytest.raises(KeyError):
        at.button(key="doc_delete")
    _sign_in(at, "manuals_auth", "田中", "wrong password")
    assert any("パスワードが違います" in e.value for e in at.error)
    assert not at.get("file_uploader")
    _sign_in(at, "manuals_auth", "田中", PASSWORD)
    assert not at.exception
    assert at.get("file_uploader")
    at.checkbox(key="doc_delete_confirm").check().run()
    at.button(key="doc_delete").click().run()
    with KnowledgeBase.open(protected) as kb:
        assert kb.documents() == []
        event = kb.audit_events(1)[0]
    assert (event.actor, event.action, event.target) == ("田中", "delete_document", "faq.md")


def test_a_plain_password_variable_and_secrets_also_work(base: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_MANAGER_PASSWORD", "plain-secret")
    at = AppTest.from_function(_manuals_page, default_timeout=60).run()
    assert not at.get("file_uploader")
    assert _sign_in(at, "manuals_auth", "佐藤", "plain-secret").get("file_uploader")
    monkeypatch.delenv("KB_MANAGER_PASSWORD")
    at = AppTest.from_function(_manuals_page, default_timeout=60)
    at.secrets["manager_password_hash"] = hash_password("from-secrets")
    at.run()
    assert not at.get("file_uploader")
    assert _sign_in(at, "manuals_auth", "伊藤", "from-secrets").get("file_uploader")


def test_admin_page_shows_the_audit_log_to_managers_only(protected: Path) -> None:
    at = AppTest.from_function(_admin_page, default_timeout=60).run()
    assert not at.exception
    assert not at.dataframe  # staff see only the sign-in form
    _sign_in(at, "admin_auth", "管理者A", PASSWORD)
    log = at.dataframe[0].value
    assert list(log["操作"]) == ["マニュアルの登録"] and list(log["対象"]) == ["faq.md"]
    assert any("管理者：管理者A" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="admin_auth_sign_out").click().run()
    assert not at.dataframe


def test_a_malformed_hash_is_named_not_accepted(base: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_MANAGER_PASSWORD_HASH", "hunter2")
    at = AppTest.from_function(_manuals_page, default_timeout=60).run()
    assert any("kb hash-password" in e.value for e in at.error)
    assert not at.get("file_uploader")


def test_oidc_configured_offers_organisation_sign_in_instead_of_open_access(base: Path) -> None:
    at = AppTest.from_function(_manuals_page, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback",
                          "cookie_secret": "x" * 32, "client_id": "kb", "client_secret": "s",
                          "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
    at.run()
    assert not at.exception
    assert not at.warning and not at.get("file_uploader")
    assert at.button(key="manuals_auth_oidc").label == "組織のアカウントでサインイン"


def test_admin_reindex_needs_confirmation_and_is_logged(protected: Path) -> None:
    at = AppTest.from_function(_admin_page, default_timeout=120).run()
    _sign_in(at, "admin_auth", "管理者B", PASSWORD)
    assert at.button(key="admin_reindex").disabled
    at.checkbox(key="admin_reindex_confirm").check().run()
    at.button(key="admin_reindex").click().run()
    assert not at.exception
    assert any("再インデックスが完了しました" in s.value for s in at.success)
    with KnowledgeBase.open(protected) as kb:
        assert ("管理者B", "reindex") in [(e.actor, e.action) for e in kb.audit_events(5)]


@pytest.mark.parametrize(("ip", "local"), [
    (None, True), ("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("192.168.1.20", False), ("::ffff:10.0.0.5", False), ("2001:db8::1", False), ("junk", False),
])
def test_only_loopback_clients_count_as_this_computer(ip: str | None, local: bool) -> None:
    from ui.auth import is_loopback

    assert is_loopback(ip) is local
