"""Cases out as CSV or XLSX with Japanese headers that `kb ingest` maps straight back.

CSV is UTF-8 with a BOM so that Excel opens Japanese text correctly. Extra ledger
columns (kept as metadata) come back as their own columns, so an exported workbook
re-imports with nothing reported as changed.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ingest.cells import GuardedWriter
from ingest.records import Case

# (case field, header): each header is an alias `ingest.fields.map_headers` knows.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "管理番号"), ("date", "発生日時"), ("title", "件名"), ("content", "クレーム内容"),
    ("customer_request", "顧客の要望"), ("cause", "発生原因"), ("response", "対応内容"),
    ("prevention", "再発防止策"), ("category", "分類"), ("product", "商品"),
    ("channel", "受付経路"), ("severity", "重要度"), ("escalated", "二次クレーム"),
    ("status", "対応状況"),
)
FORMATS = ("csv", "xlsx")


def table(cases: Iterable[Case]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: the case fields, then every metadata column in order of appearance."""
    cases = list(cases)
    extra: dict[str, None] = {}
    for case in cases:
        extra.update(dict.fromkeys(case.metadata))
    headers = [h for _, h in COLUMNS] + [c for c in extra if c not in dict(COLUMNS).values()]
    rows = []
    for case in cases:
        row = [_cell(case, name) for name, _ in COLUMNS]
        row += [case.metadata.get(c, "") for c in headers[len(COLUMNS):]]
        rows.append(row)
    return headers, rows


def _cell(case: Case, name: str) -> str:
    value = getattr(case, name)
    if name == "escalated":
        return "" if value is None else ("あり" if value else "なし")
    return value or ""


def to_csv(cases: Iterable[Case]) -> bytes:
    """UTF-8 with BOM; a cell or header starting like a formula gets a leading ' (Excel would
    run it; `kb ingest` takes it off again)."""
    headers, rows = table(cases)
    out = io.StringIO()
    writer = GuardedWriter(out, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(cases: Iterable[Case], sheet: str = "クレーム事例") -> bytes:
    """One sheet, every cell stored as text (never a formula, the header row included), header
    row frozen."""
    headers, rows = table(cases)
    book = Workbook()
    ws = book.active
    ws.title = sheet
    ws.append([ILLEGAL_CHARACTERS_RE.sub("", h) for h in headers])
    for row in rows:
        ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) or None for v in row])
    for cells in ws.iter_rows():
        for cell in cells:
            if cell.data_type == "f":  # openpyxl reads a leading '=' as a formula
                cell.data_type = "s"
    ws.freeze_panes = "A2"
    for column, (_, header) in zip(ws.columns, [*COLUMNS], strict=False):
        ws.column_dimensions[column[0].column_letter].width = 40 if header in (
            "クレーム内容", "対応内容", "発生原因", "再発防止策") else 14
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export(cases: Iterable[Case], file_format: str) -> bytes:
    if file_format not in FORMATS:
        raise ValueError(f"unknown export format '{file_format}' (use {', '.join(FORMATS)})")
    return to_csv(cases) if file_format == "csv" else to_xlsx(cases)
