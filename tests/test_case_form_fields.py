"""重要度, 担当部署, 受付者 and one status vocabulary from the form and ledgers; a case's change
history from the audit log (issue 15, items 17-18), below the browser."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from ingest.case_form import case_from_form, metadata_value
from ingest.ledger import read_ledger
from ingest.values import status_of
from kb import KnowledgeBase, changed_fields, new_draft_token
from kb.outputs.export import table
from tests.conftest import HEADERS, ROWS, write_ledger

FORM = {"date": dt.date(2025, 6, 1), "time": None, "escalated": None, "content": "水漏れがする",
        "status": "完了", "response": "交換した", "severity": "高", "department": "品質保証部"}


@pytest.mark.parametrize(("written", "status"), [
    ("完了", "対応済"), ("解決済み", "対応済"), ("対応済", "対応済"), ("ＤＯＮＥ", "対応済"),
    ("未対応", "対応中"), ("保留中", "保留"), ("要確認", "要確認"), ("", "")])
def test_one_status_vocabulary(written: str, status: str) -> None:
    assert status_of(written) == status


def test_ledger_statuses_are_read_in_the_apps_vocabulary(tmp_path: Path) -> None:
    headers = [*HEADERS, "対応状況"]
    rows = [[*ROWS[0], "完了"], [*ROWS[1], "未対応"]]
    read = read_ledger(write_ledger(tmp_path / "l.csv", rows, headers))
    assert [c.status for c in read.cases] == ["対応済", "対応中"]


def test_form_keeps_severity_department_and_the_status_vocabulary() -> None:
    case, problems = case_from_form(FORM, "R1")
    assert not problems and case is not None
    assert (case.severity, case.status, case.metadata) == ("高", "対応済", {"担当部署": "品質保証部"})
    stored = dataclasses.replace(case, metadata={"担当部署": "品質保証部", "受付番号": "77"})
    edited, _ = case_from_form({**FORM, "department": ""}, "R1", base=stored)
    assert edited.metadata == {"受付番号": "77"}  # emptied: removed; other columns kept
    untouched, _ = case_from_form({k: v for k, v in FORM.items() if k != "department"}, "R1",
                                  base=stored)
    assert untouched.metadata == stored.metadata  # a form without the field leaves it


def test_received_by_is_kept_in_the_ledgers_own_column_or_under_its_own_name() -> None:
    case, _ = case_from_form({**FORM, "received_by": "佐藤花子"}, "R1")
    assert case.metadata == {"担当部署": "品質保証部", "受付者": "佐藤花子"}
    # A ledger's own header for it (受付担当, Received by) is read and edited in place;
    # 担当者 is another column (whoever handled the case), never taken for 受付者.
    ledger = dataclasses.replace(case, metadata={"受付担当": "＜氏名＞", "担当者": "＜氏名＞"})
    assert metadata_value(ledger, "received_by") == "＜氏名＞"
    edited, _ = case_from_form({**FORM, "received_by": "鈴木"}, "R1", base=ledger)
    assert edited.metadata == {"受付担当": "鈴木", "担当者": "＜氏名＞", "担当部署": "品質保証部"}
    english = dataclasses.replace(case, metadata={"Received by": "J. Smith"})
    assert metadata_value(english, "received_by") == "J. Smith"
    assert metadata_value(dataclasses.replace(case, metadata={"担当者": "x"}), "received_by") == ""


def test_received_by_is_stored_masked_like_other_name_columns_and_exported(
        tmp_path: Path) -> None:
    """受付者 is an employee's name: masked whole (ingest/masking.py NAME_COLUMNS), in a case
    from the form, in a ledger's 受付担当 column and in a draft; the export carries the column."""
    typed, _ = case_from_form({**FORM, "received_by": "佐藤 花子"}, "R1")
    headers = ["管理番号", "受付日", "クレーム内容", "受付担当"]
    rows = [["L-1", "2024/01/10", "荷物が届かない", "山田"]]
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        report = kb.ingest_cases([typed])
        kb.ingest_ledger(write_ledger(tmp_path / "staff.csv", rows, headers))
        assert report.masked["name"] == 1
        assert kb.get_case("R1").metadata["受付者"] == "＜氏名＞"
        assert kb.get_case("L-1").metadata == {"受付担当": "＜氏名＞"}
        token = new_draft_token()
        kb.save_draft(token, {"received_by": "佐藤", "content": "水漏れ"}, owner="browser:A")
        assert kb.load_draft(token, owner="browser:A")["received_by"] == "＜氏名＞"
        head, cells = table(kb.all_cases())
    row = dict(zip(head, cells[[r[0] for r in cells].index("R1")], strict=True))
    assert row["受付者"] == "＜氏名＞" and row["担当部署"] == "品質保証部"
    assert "受付担当" in head


def test_case_history_names_who_changed_which_field(tmp_path: Path, ledger: Path) -> None:
    from kb import acting_as

    with KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.ingest_ledger(ledger)
        assert kb.audit_events(case_id="T-002") == []  # imported from its ledger: no edit yet
        before = kb.get_case("T-002")
        after = dataclasses.replace(before, prevention="出荷日を前日に連絡する",
                                    metadata={**before.metadata, "担当部署": "物流二課"})
        with acting_as("staff (app)"):
            kb.ingest_cases([after], detail=changed_fields(before, after))
            kb.retire_cases(["T-002"])
        history = kb.audit_events(case_id="T-002")
        assert [(e.actor, e.action) for e in history] == [("staff (app)", "retire_cases"),
                                                          ("staff (app)", "ingest_cases")]
        assert history[1].detail == "fields: prevention, 担当部署"
        assert kb.audit_events(case_id="T-00") == []  # an id, not a prefix of one
