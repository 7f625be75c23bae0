"""Row errors and the audit log in the staff's language (issue 15, item 6): places, reasons,
actions, counts, file names and times, on the ledger and admin pages."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb import KnowledgeBase
from tests.conftest import write_ledger
from ui import messages


def test_row_error_places_and_reasons_read_in_japanese() -> None:
    assert messages.place("line 12") == "12 行目"
    assert messages.place("record 3") == "3 件目"
    assert messages.place("sheet 2") == "sheet 2"  # unknown: shown as it came
    assert messages.reason("no such date '2025-13-45'") == "存在しない日付です：「2025-13-45」"
    assert messages.reason("unreadable yes/no value 'たぶん' (use e.g. あり/なし or yes/no)") == (
        "あり／なしとして読めません：「たぶん」（例：あり/なし、はい/いいえ、yes/no）")
    assert messages.reason("duplicate id 'T-1' (first at line 2)") == (
        "管理番号「T-1」が重複しています（最初は line 2）")
    assert messages.reason("something new") == "something new"


def test_reasons_the_ledger_reader_gives_are_all_worded(tmp_path: Path) -> None:
    """Every reason a bad ledger produces has its Japanese wording (none left in English)."""
    from ingest.ledger import read_ledger

    def row(case_id: str, date: str, content: str = "内容", flag: str = "") -> list[str]:
        return [case_id, date, "t", content, "", "", "", "", "", "", "", flag, ""]

    rows = [row("A-1", "2024/13/45", flag="たぶん"), row("A-2", "昨日", content=""),
            row("A-3", "2024/01/01"), row("A-3", "2024/01/02"),
            [*row("A-4", "2024/01/01"), "extra"]]
    read = read_ledger(write_ledger(tmp_path / "bad.csv", rows))
    assert len(read.errors) >= 5
    for error in read.errors:
        worded = messages.reason(error.message)
        assert worded != error.message and not worded.isascii(), error.message


def test_audit_actions_counts_targets_and_times() -> None:
    assert messages.action("retire_cases") == "事例の廃止"
    assert messages.counts({"new": 3, "updated": 0, "masked_name": 2}) == "新規 3・マスク：氏名 2"
    upload = Path(tempfile.gettempdir()) / "kb-uploads" / "0123abcd" / "苦情台帳.csv"
    assert messages.target(str(upload)) == "苦情台帳.csv"
    assert messages.target("/srv/ledgers/苦情台帳.csv") == "/srv/ledgers/苦情台帳.csv"
    assert messages.when("2026-12-01T14:45:00+00:00") == "2026-12-01 23:45:00 JST"


def _admin_page() -> None:
    from ui import admin
    from ui.state import knowledge_base

    admin.render(knowledge_base())


@pytest.fixture
def uploaded_ledger(tmp_path: Path, ledger: Path) -> Path:
    """The sample ledger where the ledger page keeps an upload while it reads it."""
    folder = Path(tempfile.gettempdir()) / "kb-uploads" / f"test-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    path = shutil.copy(ledger, folder / "苦情台帳2024.csv")
    yield Path(path)
    shutil.rmtree(folder, ignore_errors=True)


def test_admin_log_names_actions_files_and_japan_time(tmp_path: Path,
                                                      uploaded_ledger: Path) -> None:
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.ingest_ledger(uploaded_ledger)
        kb.retire_cases(["T-002"])
        kb.restore_cases(["T-002"])
    at = AppTest.from_function(_admin_page, default_timeout=60).run()
    assert not at.exception, at.exception
    log = at.dataframe[0].value
    actions = list(log["操作"])
    assert actions[:2] == ["事例の復元", "事例の廃止"] and actions[-1] == "台帳の取り込み"
    assert set(actions[2:-1]) <= {"検索の調整"}  # the ingest may re-tune the search
    assert list(log["対象"])[-1] == "苦情台帳2024.csv"
    assert list(log["件数"])[-1].startswith("新規 8")
    assert all(t.endswith(" JST") for t in log["日時（日本時間）"])
    options = at.selectbox(key="audit_action_ja").options
    assert "事例の廃止" in options and "事例の復元" in options and "ingest_ledger" not in options
    at.selectbox(key="audit_action_ja").select("retire_cases").run()
    assert list(at.dataframe[0].value["操作"]) == ["事例の廃止"]
