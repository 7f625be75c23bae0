"""重要度, 担当部署 and one status vocabulary from the form and ledgers; a case's change history
from the audit log (issue 15, items 17-18), below the browser."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from ingest.case_form import case_from_form
from ingest.ledger import read_ledger
from ingest.values import status_of
from kb import KnowledgeBase
from tests.conftest import HEADERS, ROWS, write_ledger
from ui.history import changes_detail

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


def test_case_history_names_who_changed_which_field(tmp_path: Path, ledger: Path) -> None:
    from kb import acting_as

    with KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.ingest_ledger(ledger)
        assert kb.audit_events(case_id="T-002") == []  # imported from its ledger: no edit yet
        before = kb.get_case("T-002")
        after = dataclasses.replace(before, prevention="出荷日を前日に連絡する",
                                    metadata={**before.metadata, "担当部署": "物流二課"})
        with acting_as("staff (app)"):
            kb.ingest_cases([after], detail=changes_detail(before, after))
            kb.retire_cases(["T-002"])
        history = kb.audit_events(case_id="T-002")
        assert [(e.actor, e.action) for e in history] == [("staff (app)", "retire_cases"),
                                                          ("staff (app)", "ingest_cases")]
        assert history[1].detail == "fields: prevention, 担当部署"
        assert kb.audit_events(case_id="T-00") == []  # an id, not a prefix of one
