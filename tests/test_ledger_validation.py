"""Bad rows are found, located and explained; by default a bad ledger writes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import Workbook

from ingest import IngestError, LedgerError, read_ledger
from kb.cli.main import main
from tests.conftest import HEADERS, ROWS, write_ledger

# Column indexes in HEADERS.
ID, DATE, TITLE, CONTENT, ESCALATED = 0, 1, 2, 3, 11

# line -> (column, start of the message). The file's header is line 1 and T-001's complaint
# spans lines 2-3, so every later row sits one line below its position in the list.
BAD_LINES = {
    "line 4": ("クレーム内容", "the complaint text is empty"),
    "line 5": ("受付日", "no such date '2024/13/45'"),
    "line 6": ("受付日", "unreadable date '来週'"),
    "line 7": ("二次クレーム", "unreadable yes/no value 'たぶん'"),
    "line 8": ("管理番号", "duplicate id 'T-001' (first at line 2)"),
}
BAD_IDS = ["T-002", "T-003", "T-004", "T-005", "T-001"]  # as written on those lines
GOOD_IDS = ["T-001", "T-007", "T-008"]


def _bad_rows() -> list[list[str]]:
    rows = [list(row) for row in ROWS]
    rows[0][CONTENT] = "注文した荷物が一週間たっても届かない。\n追跡番号も動いていない。"  # two lines
    rows[1][CONTENT] = "  "
    rows[2][DATE] = "2024/13/45"
    rows[3][DATE] = "来週"
    rows[4][ESCALATED] = "たぶん"
    rows[5][ID] = "T-001"
    rows[6][TITLE] = "ログインできない（更新）"  # a valid edit of T-007
    return rows


@pytest.fixture
def bad_csv(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    return write_ledger(tmp_path / "in" / "bad.csv", _bad_rows())


def _kb(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--index", str(tmp_path / "base"), *args])


def _stored(tmp_path: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(tmp_path / "base" / "kb.sqlite3")
    try:
        return db.execute("SELECT id, title, content FROM cases ORDER BY id").fetchall()
    finally:
        db.close()


def test_each_bad_row_is_located_with_its_column_and_reason(bad_csv: Path) -> None:
    read = read_ledger(bad_csv)
    found = {e.location: (e.field, e.message) for e in read.errors}
    assert set(found) == set(BAD_LINES)
    for location, (column, message) in BAD_LINES.items():
        assert found[location][0] == column
        assert found[location][1].startswith(message)
    assert [c.id for c in read.cases] == GOOD_IDS
    # the reported line really is where the row starts when the file is opened in an editor
    lines = bad_csv.read_text(encoding="utf-8").splitlines()
    for location, case_id in zip(BAD_LINES, BAD_IDS, strict=True):
        assert lines[int(location.split()[1]) - 1].startswith(f"{case_id},")
    assert all(e.path == str(bad_csv) and e.raw for e in read.errors)
    assert read.errors[0].raw["管理番号"] == "T-002"


def test_raise_for_errors_lists_every_problem(bad_csv: Path) -> None:
    read = read_ledger(bad_csv)
    with pytest.raises(LedgerError) as info:
        read.raise_for_errors()
    message = str(info.value)
    assert str(bad_csv) in message
    assert "5 invalid row(s); nothing was written" in message
    assert "--skip-invalid" in message
    for location, (column, text) in BAD_LINES.items():
        assert f"{location}, column '{column}': {text}" in message
    assert info.value.errors == read.errors


def test_a_clean_ledger_raises_nothing(tmp_path: Path) -> None:
    read_ledger(write_ledger(tmp_path / "ok.csv")).raise_for_errors()


def test_xlsx_row_numbers_match_excel(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append([])  # an empty first row is skipped, the numbering stays Excel's
    sheet.append(HEADERS)
    sheet.append([ROWS[0][0], dt.datetime(2024, 1, 10), *ROWS[0][2:]])
    sheet.append([ROWS[1][0], "2024/13/45", *ROWS[1][2:]])
    sheet.append([*ROWS[2][:CONTENT], None, *ROWS[2][CONTENT + 1:]])
    sheet.append([*ROWS[3][:ESCALATED], "要確認", *ROWS[3][ESCALATED + 1:]])
    book.save(tmp_path / "bad.xlsx")
    read = read_ledger(tmp_path / "bad.xlsx")
    assert [(e.location, e.field) for e in read.errors] == [
        ("row 4", "受付日"), ("row 5", "クレーム内容"), ("row 6", "二次クレーム")]
    assert [c.id for c in read.cases] == ["T-001"]
    with pytest.raises(LedgerError, match=r"row 4, column '受付日': no such date '2024/13/45'"):
        read.raise_for_errors()


def test_jsonl_line_that_is_not_json_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"id": "J-1", "content": "箱が潰れていた。"}\n'
        "\n"
        '{"id": "J-2", "content": "途中で切れた行\n'
        '["J-3", "配列は案件ではない"]\n'
        '{"id": "J-4", "content": "色が違う。", "date": "来週"}\n'
        '{"id": "J-5", "content": "動作音が大きい。"}\n', encoding="utf-8")
    read = read_ledger(path)
    assert [c.id for c in read.cases] == ["J-1", "J-5"]
    errors = [(e.location, e.field, e.message) for e in read.errors]
    assert errors[0][:2] == ("line 3", "") and errors[0][2].startswith("not valid JSON")
    assert errors[1] == ("line 4", "", "expected a JSON object")
    assert errors[2][:2] == ("line 5", "date")


def test_json_array_errors_name_the_record(tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps({"cases": [{"id": "A", "content": "ok。"}, {"id": "B", "content": ""}]}),
                    encoding="utf-8")
    [error] = read_ledger(path).errors
    assert (error.location, error.field) == ("record 2", "content")


def test_row_with_extra_cells_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "shifted.csv"
    path.write_text("管理番号,クレーム内容\nA,内容,余分なセル\nB,内容2\n", encoding="utf-8")
    read = read_ledger(path)
    assert [(e.location, e.message) for e in read.errors] == [
        ("line 2", "3 cells but the header has 2 columns")]
    assert [c.id for c in read.cases] == ["B"]


def test_unclosed_quote_does_not_silently_swallow_later_rows(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('管理番号,受付日,クレーム内容\nA,2024/1/1,正常な行\nB,2024/1/2,"閉じ忘れ\n'
                    "C,2024/1/3,三件目\nD,2024/1/4,四件目\n", encoding="utf-8")
    read = read_ledger(path)
    assert [c.id for c in read.cases] == ["A"]
    [error] = read.errors
    assert error.location == "line 3"
    assert "never closed" in error.message and "lines 3-5" in error.message


def test_giant_cell_rejects_its_row_not_the_file(tmp_path: Path) -> None:
    """Over csv's own 131,072-character cap too (issue 16, item 16): the row, with its column."""
    path = tmp_path / "huge.csv"
    path.write_text('管理番号,クレーム内容\nA,"' + "あ" * 200_000 + "\n", encoding="utf-8")
    read = read_ledger(path)
    [error] = read.errors
    assert str(error).startswith(f"{path}, line 2, column 'クレーム内容': 200,000 characters")


# --- file-level problems ------------------------------------------------------------------


def test_unknown_map_column_names_the_available_columns(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "ledger.csv")
    with pytest.raises(IngestError) as info:
        read_ledger(path, {"content": "本文"})
    message = str(info.value)
    assert str(path) in message and "本文" in message
    assert "the columns are: " + ", ".join(HEADERS) in message


def test_unknown_map_field_names_the_known_fields(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"unknown field\(s\) body; known fields: id, date, title, content"):
        read_ledger(write_ledger(tmp_path / "ledger.csv"), {"body": "クレーム内容"})


def test_no_complaint_text_column_is_a_clear_error(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "nocontent.csv", [["1", "2024/1/1", "メモ"]], ["番号", "日付", "備考"])
    with pytest.raises(IngestError) as info:
        read_ledger(path)
    message = str(info.value)
    assert message.startswith(f"{path}: no complaint-text column found")
    assert "the columns are: 番号, 日付, 備考" in message
    assert "--map content=COLUMN" in message


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("empty.csv", b"", "the file is empty"),
    ("blank.csv", b" \r\n\r\n", "the file is empty"),
    ("bom_only.csv", b"\xef\xbb\xbf", "no header row found"),
    ("empty.jsonl", b"\n", "the file is empty"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "old .xls workbooks are not supported"),
    ("manual.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 8,
     "unsupported ledger type '.pdf'"),
    ("notes.docx", b"PK\x03\x04" + bytes(range(256)) * 4, "unsupported ledger type '.docx'"),
    ("fake.xlsx", "管理番号,クレーム内容\n".encode(), "not a readable Excel workbook"),
    ("broken.json", b'{"cases": [', "not valid JSON"),
    ("mixed.csv", b"\xef\xbb\xbf\xe7\xae\xa1,\x82\xa0\n",
     "starts with a Unicode byte-order mark but byte 7 is not valid"),
])
def test_unreadable_files_are_clear_errors_naming_the_file(tmp_path: Path, name: str, data: bytes,
                                                           reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(IngestError) as info:
        read_ledger(path)
    assert str(info.value).startswith(f"{path}: {reason}")


# --- the real CLI ---------------------------------------------------------------------------


def test_cli_refuses_a_bad_ledger_and_writes_nothing(tmp_path: Path, bad_csv: Path) -> None:
    result = _kb(tmp_path, "ingest", str(bad_csv))
    assert result.exit_code != 0
    for location, (column, message) in BAD_LINES.items():
        assert f"{location}, column '{column}': {message}" in result.output
    assert "nothing was written" in result.output
    assert not (bad_csv.parent / "bad.rejected.csv").exists()
    stats = _kb(tmp_path, "stats", "--json")
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.output)["cases"] == 0


def test_cli_bad_ledger_leaves_an_existing_base_exactly_as_it_was(tmp_path: Path, bad_csv: Path) -> None:
    good = write_ledger(tmp_path / "good.csv")
    assert _kb(tmp_path, "ingest", str(good)).exit_code == 0
    before = _stored(tmp_path)
    assert [row[0] for row in before] == [row[0] for row in ROWS]
    result = _kb(tmp_path, "ingest", str(bad_csv))
    assert result.exit_code != 0
    assert _stored(tmp_path) == before  # not even the valid edit of T-007 got in
    assert json.loads(_kb(tmp_path, "stats", "--json").output)["cases"] == len(ROWS)


def test_cli_skip_invalid_ingests_good_rows_and_writes_rejects(tmp_path: Path, bad_csv: Path) -> None:
    result = _kb(tmp_path, "ingest", "--skip-invalid", str(bad_csv))
    assert result.exit_code == 0, result.output
    assert "3 new, 0 updated, 0 unchanged, 5 rejected" in result.output
    rejects = bad_csv.parent / "bad.rejected.csv"
    assert f"rejected rows written to {rejects}" in result.output
    assert [row[0] for row in _stored(tmp_path)] == GOOD_IDS
    assert json.loads(_kb(tmp_path, "stats", "--json").output)["cases"] == len(GOOD_IDS)

    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["_location"] for r in table] == list(BAD_LINES)
    for row, (column, message) in zip(table, BAD_LINES.values(), strict=True):
        assert row["_errors"].startswith(f"{column}: {message}")
    assert [r["管理番号"] for r in table] == BAD_IDS
    assert table[1]["受付日"] == "2024/13/45"  # the row as written, ready to fix
    assert table[0]["担当部署"] == "物流部"


def test_cli_skip_invalid_still_refuses_unreadable_files(tmp_path: Path) -> None:
    # A .pdf goes to manual ingest, which names the file and says what is wrong with it.
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    result = _kb(tmp_path, "ingest", "--skip-invalid", str(path))
    assert result.exit_code != 0
    assert f"{path}: damaged or truncated PDF" in result.output


def test_cli_unknown_map_column_is_a_clear_error(tmp_path: Path) -> None:
    ledger = write_ledger(tmp_path / "ledger.csv")
    result = _kb(tmp_path, "ingest", "--map", "content=本文", str(ledger))
    assert result.exit_code != 0
    assert "--map names column(s) not in the file: 本文" in result.output
    assert "the columns are: 管理番号, 受付日, 件名, クレーム内容" in result.output
    result = _kb(tmp_path, "ingest", "--map", "body=クレーム内容", str(ledger))
    assert result.exit_code != 0
    assert "unknown field(s) body; known fields: id, date" in result.output
    result = _kb(tmp_path, "ingest", "--map", "content", str(ledger))
    assert result.exit_code != 0
    assert "'content' is not FIELD=COLUMN" in result.output
    assert json.loads(_kb(tmp_path, "stats", "--json").output)["cases"] == 0


def test_cli_map_override_ingests_a_custom_column(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "custom.csv", [["A-1", "冷蔵庫が冷えない。"]], ["受付No", "本文"])
    result = _kb(tmp_path, "ingest", "--map", "content=本文", "--map", "id=受付No", str(path))
    assert result.exit_code == 0, result.output
    assert "受付No→id" in result.output and "本文→content" in result.output
    assert _stored(tmp_path) == [("A-1", "", "冷蔵庫が冷えない。")]


def test_cli_no_content_column_is_a_clear_error(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "memo.csv", [["1", "メモ"]], ["番号", "備考"])
    result = _kb(tmp_path, "ingest", str(path))
    assert result.exit_code != 0
    assert f"{path}: no complaint-text column found" in result.output
    assert "番号, 備考" in result.output
