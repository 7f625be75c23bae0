"""Every write is in the audit log (who, when, what, counts), shown by `kb audit`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import KnowledgeBase
from kb.cli.main import main
from kb.passwords import check_format, hash_password, verify_password
from kb.storage.audit import acting_as
from kb.storage.schema import SCHEMA_VERSION, applied_migrations
from tests.conftest import ROWS


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_writes_are_logged_with_actor_and_counts(tmp_path: Path, ledger: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    index = str(tmp_path / "kb")
    assert run("--index", index, "--actor", "鈴木", "ingest", str(ledger))[0] == 0
    manual = tmp_path / "返品規程.md"
    manual.write_text("# 返品\n\n返品は到着後七日以内に受け付ける。\n", encoding="utf-8")
    monkeypatch.setenv("KB_ACTOR", "kanri")
    assert run("--index", index, "ingest", str(manual))[0] == 0
    assert run("--index", index, "delete", "T-001", "NOPE")[0] == 1
    assert run("--index", index, "delete", "--document", "返品規程.md")[0] == 0
    code, out = run("--index", index, "audit", "--json")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["actor"], e["action"]) for e in events] == [
        ("kanri", "delete_document"), ("kanri", "delete_cases"), ("kanri", "ingest_document"),
        ("鈴木", "calibrate"), ("鈴木", "ingest_ledger")]
    assert events[4]["target"] == str(ledger)
    assert events[4]["counts"]["new"] == len(ROWS)
    assert events[1]["counts"] == {"requested": 2, "deleted": 1}
    assert events[1]["target"] == "T-001, NOPE"
    assert events[2]["target"] == "返品規程.md" and events[2]["detail"] == "new"
    assert all(e["at"].endswith("+00:00") for e in events)
    code, out = run("--index", index, "audit", "--limit", "1")
    assert out.splitlines() == [f"{events[0]['at']}  kanri  delete_document  返品規程.md  deleted 1"]


def test_the_event_is_written_with_the_data_or_not_at_all(kb: KnowledgeBase) -> None:
    before = len(kb.audit_events())
    with acting_as("manager-a"):
        kb.delete_cases(["T-002"])
    with pytest.raises(sqlite3.IntegrityError), acting_as("manager-b"), kb.store.transaction():
        kb.store.db.execute("DELETE FROM cases WHERE id = 'T-003'")
        from kb.storage import audit

        audit.record(kb.store.db, "delete_cases", "T-003", {"deleted": 1})
        kb.store.db.execute("INSERT INTO cases (id) VALUES ('broken')")  # NOT NULL fails
    events = kb.audit_events()
    assert len(events) == before + 1 and events[0].actor == "manager-a"
    assert kb.get_case("T-003") is not None  # rolled back together with its event


def test_reindex_is_logged(kb: KnowledgeBase) -> None:
    with acting_as("admin"):
        kb.reindex()
    actions = [(e.actor, e.action) for e in kb.audit_events(3)]
    assert ("admin", "reindex") in actions and ("admin", "calibrate") in actions


def _forget(root: Path, script: str) -> None:
    db = sqlite3.connect(root / "kb.sqlite3")
    db.executescript(script)
    db.commit()
    db.close()


_BEFORE_M004 = ("DROP TABLE drafts; DROP INDEX cases_retired; "
                "ALTER TABLE cases DROP COLUMN retired_at; ")


def test_an_older_base_gains_the_audit_log_and_a_later_gap_fills_once(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    KnowledgeBase.open(root).close()
    # As a base written before m004 and m005 existed: schema_version 3, no migrations list.
    _forget(root, _BEFORE_M004 + "DROP TABLE audit_log; DELETE FROM manifest WHERE key = "
            "'migrations'; UPDATE manifest SET value = '3' WHERE key = 'schema_version';")
    with KnowledgeBase.open(root) as kb:
        assert kb.audit_events() == [] and kb.stats().retired == 0
        assert applied_migrations(kb.store.db) == {1, 2, 3, 4, 5}
        assert kb.stats().schema_version == SCHEMA_VERSION == 5
    # As a base from a build that had m005 but not yet m004 (they were written side by side):
    # m004 runs once, later, and the audit log is kept.
    with KnowledgeBase.open(root) as kb:
        kb.retire_cases(["none"])
    _forget(root, _BEFORE_M004 + "UPDATE manifest SET value = '[1, 2, 3, 5]' "
            "WHERE key = 'migrations';")
    with KnowledgeBase.open(root) as kb:
        assert applied_migrations(kb.store.db) == {1, 2, 3, 4, 5}
        assert [e.action for e in kb.audit_events()] == ["retire_cases"]
        assert kb.stats().retired == 0
    _forget(root, "UPDATE manifest SET value = '[1, 2, 3, 4, 5, 9]' WHERE key = 'migrations'")
    with pytest.raises(RuntimeError, match=r"schema migration\(s\) \[9\], newer than this program"):
        KnowledgeBase.open(root)


def test_password_hashes_verify_only_the_right_password() -> None:
    stored = hash_password("正しいパスワード")
    assert stored.startswith("scrypt$") and "正しい" not in stored
    assert verify_password("正しいパスワード", stored)
    assert not verify_password("まちがい", stored)
    assert hash_password("same") != hash_password("same")  # salted
    legacy = "sha256:" + __import__("hashlib").sha256(b"pw").hexdigest()
    assert verify_password("pw", legacy) and not verify_password("pw2", legacy)
    assert not verify_password("pw", "md5:abc")
    with pytest.raises(ValueError, match="kb hash-password"):
        check_format("plaintext-password")
    code, out = run("hash-password", "--password", "long enough")
    assert code == 0 and verify_password("long enough", out.strip())
