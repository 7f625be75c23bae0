"""Decompression bombs are refused before they are inflated, an over-long workbook is
refused without reading it to the end, and workbooks and Word files that swell in memory
while parsed are stopped by the memory cap (issue 16, item 3). Files generated here."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from ingest import sandbox
from ingest.errors import IngestError
from ingest.tables import read_table
from kb import KnowledgeBase
from kb.cli.main import main
from tests.conftest import HEADERS, ROOT, ROWS, write_ledger

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


# ---- the memory cap: files that pass the size checks but swell while parsed ----

CAP_MB = "8"  # KB_MAX_PARSE_MB for these tests; an ordinary small file needs under 2 MB
PARSED_MB = 4 * 1024 * 1024  # XML under the 8 MB from which ratios are checked: no size check trips


def _swelling_workbook(path: Path) -> Path:
    """A real workbook of the test ledger plus 4 MB of distinct shared strings (openpyxl
    holds each as a Python string: some 30 MB) in a 0.5 MB file."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADERS)
    for row in ROWS:
        sheet.append(row)
    plain = io.BytesIO()
    book.save(plain)
    strings = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", f'<Relationship Id="rIdS" Type="{strings}" '
                                    'Target="sharedStrings.xml"/></Relationships>'.encode())
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" '
                                    f'ContentType="{kind}"/></Types>'.encode())
            out.writestr(info, data)
        items = b"".join(b"<si><t>%d</t></si>" % i for i in range(PARSED_MB // 20))
        out.writestr("xl/sharedStrings.xml", b'<sst xmlns="http://schemas.openxmlformats.org/'
                     b'spreadsheetml/2006/main">' + items + b"</sst>")
    return path


def _swelling_docx(path: Path) -> Path:
    """A Word file of 4 MB of one-word paragraphs (ElementTree: some 100 MB) in a 0.1 MB file."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    paragraph = b"<w:p><w:r><w:t>a</w:t></w:r></w:p>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", f'<w:document xmlns:w="{w}"><w:body>'.encode()
                         + paragraph * (PARSED_MB // len(paragraph)) + b"</w:body></w:document>")
    return path


@pytest.mark.skipif(not sandbox.supported(), reason="the memory cap needs Linux (fork, RLIMIT_AS)")
def test_files_that_swell_in_memory_are_refused_by_the_cap_and_ordinary_ones_are_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = str(tmp_path / "kb")
    monkeypatch.setenv("KB_MAX_PARSE_MB", CAP_MB)
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADERS)
    for row in ROWS:
        sheet.append(row)
    book.save(tmp_path / "ordinary.xlsx")
    code, out = run("--index", index, "ingest", str(tmp_path / "ordinary.xlsx"))
    assert code == 0 and f"{len(ROWS)} new" in out, out  # parsed under the same cap
    with KnowledgeBase.open(index) as kb:
        version = kb.stats().state_version
    swelling = [_swelling_workbook(tmp_path / "swell.xlsx"), _swelling_docx(tmp_path / "swell.docx")]
    assert all(path.stat().st_size < 600 * 1024 for path in swelling)
    # `kb ingest` in a process of its own, as staff run it: inside this long-lived test
    # process a child could reuse heap the parent had freed, which the cap does not count
    ingest = subprocess.run([sys.executable, "-m", "kb", "--index", index, "ingest",
                             *map(str, swelling)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "KB_MAX_PARSE_MB": CAP_MB})
    code, out = ingest.returncode, ingest.stdout + ingest.stderr
    assert code == 1, out
    for path in swelling:
        assert (f"{path}: 読み込みに 8 MB を超えるメモリが必要でした / reading it needed more than "
                "8 MB of memory (KB_MAX_PARSE_MB)") in out, out
    assert "Traceback" not in out
    code, out = run("--index", index, "check", "--no-repair")
    assert code == 0, out
    with KnowledgeBase.open(index) as kb:
        assert kb.stats().state_version == version and kb.documents() == []
        assert [h.case.id for h in kb.search("荷物が届かない", top_k=3).hits][:1] == ["T-001"]


@pytest.mark.skipif(not sandbox.supported(), reason="the memory cap needs Linux (fork, RLIMIT_AS)")
def test_a_capped_parse_returns_results_and_raises_errors_as_in_process(tmp_path: Path) -> None:
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(IngestError) as in_process:
        read_table(bad)
    with pytest.raises(IngestError) as capped:
        read_table(bad, max_memory=64 * 1024 * 1024)
    assert type(capped.value) is type(in_process.value)
    assert (capped.value.path, capped.value.message) == (in_process.value.path, in_process.value.message)
    ledger = write_ledger(tmp_path / "l.csv")
    assert sandbox.capped("l.csv", 64 * 1024 * 1024, read_table, ledger) == read_table(ledger)
    results: list[object] = []  # from a thread, as the app's script thread calls it
    worker = threading.Thread(target=lambda: results.append(
        sandbox.capped("l.csv", 64 * 1024 * 1024, read_table, ledger)))
    worker.start()
    worker.join(timeout=60)
    assert results == [read_table(ledger)]
