"""Decompression bombs are refused before they are inflated, and an over-long workbook is
refused without reading it to the end (issue 16, item 3). Files generated here."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

from click.testing import CliRunner
from openpyxl import Workbook

from kb import KnowledgeBase
from kb.cli.main import main
from tests.conftest import HEADERS, ROWS, write_ledger

INFLATED = 24 * 1024 * 1024  # 24 MB of one repeated byte: about 24 KB once deflated


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _bomb(path: Path, member: str, extra: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in extra.items():
            archive.writestr(name, text)
        with archive.open(member, "w", force_zip64=True) as handle:
            block = b"A" * (1024 * 1024)
            for _ in range(INFLATED // len(block)):
                handle.write(block)
    return path


def test_an_xlsx_with_a_huge_shared_strings_part_is_refused_unread(tmp_path: Path) -> None:
    index = str(tmp_path / "kb")
    run("--index", index, "ingest", str(write_ledger(tmp_path / "l.csv")))
    with KnowledgeBase.open(index) as kb:
        version = kb.stats().state_version
    bomb = _bomb(tmp_path / "bomb.xlsx", "xl/sharedStrings.xml",
                 {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"})
    assert bomb.stat().st_size < 200 * 1024
    started = time.perf_counter()
    code, out = run("--index", index, "ingest", str(bomb))
    assert code == 1
    assert "bomb.xlsx: xl/sharedStrings.xml inside it expands" in out
    assert "to 24 MB (at most 100 times)" in out, out
    assert time.perf_counter() - started < 20
    code, out = run("--index", index, "check", "--no-repair")
    assert code == 0, out
    with KnowledgeBase.open(index) as kb:
        assert kb.stats().state_version == version


def test_a_docx_expanding_to_much_text_is_refused_unread(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.docx", "word/document.xml", {"[Content_Types].xml": "<Types/>"})
    code, out = run("--index", str(tmp_path / "kb"), "ingest", str(bomb))
    assert code == 1 and "word/document.xml inside it expands" in out, out
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        assert kb.documents() == []


def test_a_workbook_over_the_row_limit_is_refused_while_streaming(tmp_path: Path) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADERS)
    for i in range(300):
        sheet.append([f"W-{i}", *ROWS[i % len(ROWS)][1:]])
    path = tmp_path / "many.xlsx"
    book.save(path)
    code, out = run("--index", str(tmp_path / "kb"), "ingest", str(path), "--max-rows", "100")
    assert code == 1
    assert "many.xlsx: more than 100 rows, over the limit of 100 rows per file" in out, out
