"""One ledger, every file format and encoding an office sends: the same cases come back."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook

from ingest import LedgerRead, read_ledger
from tests.conftest import HEADERS, ROWS, write_ledger

IDS = [row[0] for row in ROWS]
CONTENTS = [row[3] for row in ROWS]
DATES = ["2024-01-10", "2024-02-03", "2024-03-15", "2024-05-20", "2024-07-01", "2024-09-12",
         "2025-01-08", "2025-02-14"]
ESCALATED = [False, True, False, True, False, True, False, False]  # なし/あり
EXPECTED_MAPPING = {
    "id": "管理番号", "date": "受付日", "title": "件名", "content": "クレーム内容",
    "customer_request": "顧客の要望", "cause": "発生原因", "response": "対応内容",
    "prevention": "再発防止策", "category": "分類", "product": "商品", "channel": "受付経路",
    "escalated": "二次クレーム",
}


def _records() -> list[dict[str, str]]:
    return [dict(zip(HEADERS, row, strict=True)) for row in ROWS]


def _csv(encoding: str) -> Callable[[Path], Path]:
    return lambda d: write_ledger(d / "ledger.csv", encoding=encoding)


def _tsv(d: Path) -> Path:
    return write_ledger(d / "ledger.tsv", delimiter="\t")


def _tab_txt(d: Path) -> Path:
    return write_ledger(d / "ledger.txt", delimiter="\t")


def _xlsx(d: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    for row in ROWS:
        year, month, day = map(int, row[1].split("/"))
        sheet.append([row[0], dt.datetime(year, month, day), *row[2:]])  # a real Excel date cell
    path = d / "ledger.xlsx"
    book.save(path)
    return path


def _json_array(d: Path) -> Path:
    path = d / "ledger.json"
    path.write_text(json.dumps(_records(), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _json_cases(d: Path) -> Path:
    path = d / "ledger.json"
    path.write_text(json.dumps({"exported": "2025-03-01", "cases": _records()}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def _jsonl(d: Path) -> Path:
    path = d / "ledger.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _records()),
                    encoding="utf-8")
    return path


FORMATS = {
    "utf8-csv": (_csv("utf-8"), "csv", "utf-8"),
    "utf8-bom-csv": (_csv("utf-8-sig"), "csv", "utf-8-sig"),
    "cp932-csv": (_csv("cp932"), "csv", "cp932"),
    "eucjp-csv": (_csv("euc_jp"), "csv", "euc_jp"),
    "utf16-csv": (_csv("utf-16"), "csv", "utf-16"),
    "tsv": (_tsv, "tsv", "utf-8"),
    "tab-separated-txt": (_tab_txt, "tsv", "utf-8"),
    "xlsx": (_xlsx, "xlsx", "xlsx"),
    "json-array": (_json_array, "json", "utf-8"),
    "json-cases": (_json_cases, "json", "utf-8"),
    "jsonl": (_jsonl, "jsonl", "utf-8"),
}


def _assert_same_ledger(read: LedgerRead) -> None:
    assert read.errors == []
    assert read.total_rows == len(ROWS)
    assert [c.id for c in read.cases] == IDS
    assert [c.content for c in read.cases] == CONTENTS
    assert [c.date for c in read.cases] == DATES
    assert [c.escalated for c in read.cases] == ESCALATED
    assert read.mapping == EXPECTED_MAPPING
    assert read.metadata_columns == ["担当部署"]
    first = read.cases[0]
    assert first.title == "荷物未着"
    assert first.customer_request == "至急配送"
    assert first.cause == "配送業者の仕分けミス"
    assert first.response == "業者に調査を依頼し翌日配達"
    assert first.prevention == "業者との連絡体制を見直し"
    assert (first.category, first.product, first.channel) == ("配送遅延", "電気ケトル KT-10", "電話")
    assert [c.metadata for c in read.cases][3:6] == [
        {"担当部署": "品質保証部"}, {"担当部署": "経理部"}, {"担当部署": "お客様相談室"}]


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_gives_the_same_cases(tmp_path: Path, name: str) -> None:
    write, file_format, encoding = FORMATS[name]
    path = write(tmp_path)
    read = read_ledger(path)
    assert (read.file_format, read.encoding) == (file_format, encoding)
    _assert_same_ledger(read)
    assert {c.source for c in read.cases} == {path.name}


def test_shift_jis_ledger_is_detected_and_japanese_survives(tmp_path: Path) -> None:
    path = write_ledger(tmp_path / "sjis.csv", encoding="cp932")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    read = read_ledger(path)
    assert read.encoding == "cp932"
    assert read.cases[2].title == "違う商品が届いた"
    assert read.cases[5].content == "電話窓口の担当者の言い方が高圧的で、話を聞いてもらえなかった。"
    assert read.cases[6].metadata == {"担当部署": "EC運営部"}


def test_shift_jis_only_characters_are_read_as_cp932(tmp_path: Path) -> None:
    # ① and ～ exist in Windows' CP932 but not in plain EUC-JP.
    rows = [["S-1", "2024/04/01", "①の件", "保証書の「～」以降が印字されていない。", *[""] * 7, "なし", ""]]
    read = read_ledger(write_ledger(tmp_path / "win.csv", rows, encoding="cp932"))
    assert read.encoding == "cp932"
    assert (read.cases[0].title, read.cases[0].content) == ("①の件", "保証書の「～」以降が印字されていない。")


def test_xlsx_numbers_and_date_times_come_back_as_text_and_iso(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["No.", "受付日時", "クレーム内容", "二次クレーム"])
    sheet.append([101, dt.datetime(2024, 4, 1, 9, 30), "夜間に配達された。", "無"])
    sheet.append([102, dt.date(2024, 4, 2), "箱が潰れていた。", None])
    book.save(tmp_path / "numbers.xlsx")
    read = read_ledger(tmp_path / "numbers.xlsx")
    assert [(c.id, c.date, c.escalated) for c in read.cases] == [
        ("101", "2024-04-01 09:30", False), ("102", "2024-04-02", None)]


def test_english_headers_map_to_case_fields(tmp_path: Path) -> None:
    headers = ["Complaint ID", "Date received", "Product", "Sub-product", "Issue",
               "Consumer complaint narrative", "Company response to consumer", "Consumer disputed?"]
    rows = [
        ["3456789", "02/14/2025", "Credit card", "Store card", "Billing dispute",
         "I was charged twice for the same purchase.", "Closed with monetary relief", "Yes"],
        ["3456790", "2025-02-15", "Mortgage", "", "Trouble during payment process",
         "My payment was not applied to my account.", "Closed with explanation", "N/A"],
    ]
    read = read_ledger(write_ledger(tmp_path / "cfpb.csv", rows, headers))
    assert read.mapping == {
        "id": "Complaint ID", "date": "Date received", "product": "Product", "category": "Issue",
        "content": "Consumer complaint narrative", "response": "Company response to consumer",
        "escalated": "Consumer disputed?",
    }
    assert read.metadata_columns == ["Sub-product"]
    first, second = read.cases
    assert (first.id, first.date, first.escalated) == ("3456789", "2025-02-14", True)
    assert (first.product, first.category) == ("Credit card", "Billing dispute")
    assert first.content == "I was charged twice for the same purchase."
    assert first.metadata == {"Sub-product": "Store card"}
    assert (second.date, second.escalated, second.metadata) == ("2025-02-15", None, {})


def test_header_spelling_variants_still_map(tmp_path: Path) -> None:
    headers = [" No. ", "受付日（西暦）", "件　名", "苦情内容", "ＤＡＴＥ_ＮＯＴＥ"]
    rows = [["7", "2024/6/1", "破損", "箱が潰れて中身が割れていた。", "x"]]
    read = read_ledger(write_ledger(tmp_path / "variants.csv", rows, headers))
    assert read.mapping == {"id": "No.", "date": "受付日（西暦）", "title": "件　名", "content": "苦情内容"}
    assert read.cases[0].id == "7"
    assert read.cases[0].metadata == {"ＤＡＴＥ_ＮＯＴＥ": "x"}


def test_map_override_names_a_non_standard_content_column(tmp_path: Path) -> None:
    headers = ["受付No", "本文", "内容", "メモ"]
    rows = [["A-1", "冷蔵庫が冷えない。", "家電", "至急"], ["A-2", "リモコンが反応しない。", "家電", ""]]
    path = write_ledger(tmp_path / "custom.csv", rows, headers)
    read = read_ledger(path, {"content": "本文"})
    assert read.mapping["content"] == "本文"
    assert [c.content for c in read.cases] == ["冷蔵庫が冷えない。", "リモコンが反応しない。"]
    assert read.metadata_columns == ["受付No", "内容", "メモ"]  # the alias column is not used twice
    assert read.cases[0].metadata == {"受付No": "A-1", "内容": "家電", "メモ": "至急"}
    # without the override the alias column 内容 would have been taken as the complaint text
    assert read_ledger(path).cases[0].content == "家電"


def test_ledger_without_id_column_gets_stable_content_ids(tmp_path: Path) -> None:
    headers = HEADERS[1:]
    path = write_ledger(tmp_path / "no_id.csv", [row[1:] for row in ROWS], headers)
    first = [c.id for c in read_ledger(path).cases]
    again = [c.id for c in read_ledger(path).cases]
    assert first == again
    assert len(set(first)) == len(ROWS)
    assert all(i.startswith("h") and len(i) == 13 for i in first)
    # the same rows as JSON (another export of the same ledger) get the same ids
    records = [dict(zip(headers, row[1:], strict=True)) for row in ROWS]
    (tmp_path / "no_id.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    assert [c.id for c in read_ledger(tmp_path / "no_id.json").cases] == first
    # editing a row's complaint text gives it a new id; the others keep theirs
    rows = [row[1:] for row in ROWS]
    rows[0][2] += "（追記あり）"
    edited = [c.id for c in read_ledger(write_ledger(tmp_path / "edited.csv", rows, headers)).cases]
    assert edited[0] != first[0] and edited[1:] == first[1:]


def test_jsonl_text_with_unicode_line_separators_stays_one_record(tmp_path: Path) -> None:
    records = [{"id": "L-1", "content": "一行目\u2028二行目\x85三行目"},
               {"id": "L-2", "content": "普通の内容。"}]
    path = tmp_path / "seps.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    read = read_ledger(path)
    assert read.errors == []
    assert [c.id for c in read.cases] == ["L-1", "L-2"]
    assert read.cases[0].content == "一行目\u2028二行目\x85三行目"


def test_multiline_cells_and_blank_lines_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_text('管理番号,クレーム内容\r\n\r\nM-1,"一行目\r\n二行目, 続き"\r\n'
                    'M-2,"彼は""至急""と言った"\r\n', encoding="utf-8")
    read = read_ledger(path)
    assert [(c.id, c.content) for c in read.cases] == [
        ("M-1", "一行目\n二行目, 続き"), ("M-2", '彼は"至急"と言った')]


def test_title_row_above_the_header_is_skipped(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["クレーム管理台帳 2024年度"])
    sheet.append([])
    sheet.append(["管理番号", "受付日", "クレーム内容"])
    sheet.append(["A-1", "2024年4月1日(月)", "荷物が届かない"])
    book.save(tmp_path / "titled.xlsx")
    read = read_ledger(tmp_path / "titled.xlsx")
    assert read.errors == []
    assert [(c.id, c.date, c.content) for c in read.cases] == [("A-1", "2024-04-01", "荷物が届かない")]
    csv_path = tmp_path / "titled.csv"
    csv_path.write_text("クレーム管理台帳\n管理番号,受付日,クレーム内容\nA-1,2024/4/1,箱が潰れていた\n",
                        encoding="utf-8")
    read = read_ledger(csv_path)
    assert [(c.id, c.content) for c in read.cases] == [("A-1", "箱が潰れていた")]
    assert read.cases and read.errors == []


def test_single_column_ledger_is_not_mistaken_for_a_title(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("クレーム内容\n荷物が届かない\n箱が潰れていた\n", encoding="utf-8")
    read = read_ledger(path)
    assert [c.content for c in read.cases] == ["荷物が届かない", "箱が潰れていた"]
