"""Complaint ledgers: map columns to case fields, validate each row, build Cases."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import IngestError, LedgerError, RowError
from ingest.fields import map_headers, unknown_fields
from ingest.limits import Limits
from ingest.records import Case, content_id
from ingest.tables import JsonText, Row, read_table
from ingest.values import (
    clean_text,
    id_problem,
    parse_date,
    parse_flag,
    status_of,
    text_problem,
    visible,
)

_TEXT_FIELDS = ("title", "customer_request", "cause", "response", "prevention", "category",
                "product", "channel", "severity", "status")


@dataclass
class LedgerRead:
    """Everything learned from one ledger file: cases, rejected rows, how columns mapped."""

    path: str
    file_format: str
    encoding: str
    mapping: dict[str, str]  # case field -> column
    metadata_columns: list[str]
    cases: list[Case] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0
    locations: dict[str, str] = field(default_factory=dict)  # case id -> its row ("line 12")

    def raise_for_errors(self) -> None:
        """Refuse the whole file when any row is invalid (the default)."""
        if self.errors:
            raise LedgerError(self.path, self.errors)


def read_ledger(path: str | Path, overrides: dict[str, str] | None = None,
                encoding: str | None = None, limits: Limits | None = None) -> LedgerRead:
    """Read and validate a ledger; row problems are collected, file problems raise IngestError.

    `overrides` {field: column} beat the header aliases; a field mapped to '' is left unmapped.
    Over-limit files (size, rows) raise LimitError; an over-long cell rejects its row.
    """
    path = Path(path)
    limits = limits or Limits()
    if path.is_file():
        limits.check_size(str(path), path.stat().st_size)
    table = read_table(path, encoding, max_rows=limits.max_rows, max_memory=limits.max_parse_bytes)
    limits.check_columns(str(path), len(table.headers))
    for number, header in enumerate(table.headers, start=1):
        if problem := text_problem(header):
            raise IngestError(str(path), f"the name of column {number} {problem}")
    limits.check_rows(str(path), len(table.rows))
    overrides = dict(overrides or {})
    if bad := unknown_fields(list(overrides)):
        raise IngestError(str(path), f"--map names unknown field(s) {', '.join(bad)}; "
                          f"known fields: {', '.join(_known())}")
    missing = [col for col in overrides.values() if col and col not in table.headers]
    if missing:
        raise IngestError(str(path), f"--map names column(s) not in the file: {', '.join(missing)}; "
                          f"the columns are: {', '.join(table.headers)}")
    mapping = map_headers(table.headers, overrides)
    if "content" not in mapping:
        raise IngestError(
            str(path),
            "no complaint-text column found (e.g. クレーム内容, 苦情内容, 問い合わせ内容, content); "
            f"the columns are: {', '.join(table.headers)}; name one with --map content=COLUMN",
        )
    mapped = set(mapping.values())
    result = LedgerRead(
        path=str(path),
        file_format=table.file_format,
        encoding=table.encoding,
        mapping=mapping,
        metadata_columns=[h for h in table.headers if h not in mapped],
        total_rows=len(table.rows),
    )
    first_seen: dict[str, str] = {}
    for row in table.rows:
        errors = _unstorable(row, str(path))  # first: nothing else can even hash such a cell
        case, more = (None, []) if errors else _build_case(row, mapping, result.metadata_columns,
                                                           str(path))
        errors += more + _too_long(row, limits, str(path))
        case = None if errors else case
        if case is not None and case.id in first_seen:
            errors.append(RowError(str(path), row.location, mapping.get("id", "id"),
                                   f"duplicate id '{case.id}' (first at {first_seen[case.id]})",
                                   _raw(row)))
        if errors:
            result.errors.extend(errors)
            continue
        assert case is not None
        first_seen[case.id] = row.location
        result.cases.append(case)
    result.locations = first_seen
    return result


def _too_long(row: Row, limits: Limits, path: str) -> list[RowError]:
    """One error per cell over the field-length limit."""
    if row.error:
        return []
    return [RowError(path, row.location, column, problem, _raw(row))
            for column, value in row.values.items()
            if (problem := limits.field_problem(clean_text(value)))]


def _unstorable(row: Row, path: str) -> list[RowError]:
    """One error per cell holding a NUL byte or half a surrogate pair (SQLite cannot take it)."""
    if row.error:
        return []
    return [RowError(path, row.location, column, problem, _raw(row))
            for column, value in row.values.items()
            if isinstance(value, str) and (problem := text_problem(value))]


def _id_value_problem(value: object) -> str:
    """Why a raw id cell (JSON ledgers keep types) is not an id: true/false, a list or an
    object, a number too long to be a reference, or not a number at all (inf, NaN)."""
    if isinstance(value, bool):
        return f"the id is {str(value).lower()}, not a case number or text"
    if isinstance(value, JsonText):
        return "the id is a JSON list or object, not a case number or text"
    if isinstance(value, int) and len(str(abs(value))) > 30:
        return f"the id is a {len(str(abs(value)))}-digit number; use text for such references"
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "the id is not a finite number"
    return ""


def _known() -> list[str]:
    from ingest.records import CASE_FIELDS

    return list(CASE_FIELDS)


def _raw(row: Row) -> dict[str, str]:
    return {k: clean_text(v) for k, v in row.values.items()}


def _build_case(
    row: Row, mapping: dict[str, str], metadata_columns: list[str], path: str
) -> tuple[Case | None, list[RowError]]:
    """Validate one row; return the case or every problem found in it."""
    if row.error:
        return None, [RowError(path, row.location, "", row.error, _raw(row))]
    errors: list[RowError] = []

    def cell(name: str) -> object:
        column = mapping.get(name)
        return row.values.get(column) if column else None

    content = clean_text(cell("content"))
    if not visible(content):
        errors.append(RowError(path, row.location, mapping["content"],
                               "the complaint text is empty" + (
                                   " (only invisible characters)" if content else ""), _raw(row)))
    if "id" in mapping and (problem := _id_value_problem(cell("id"))
                            or id_problem(clean_text(cell("id")))):
        errors.append(RowError(path, row.location, mapping["id"], problem, _raw(row)))
    date: str | None = None
    try:
        date = parse_date(cell("date"))
    except ValueError as exc:
        errors.append(RowError(path, row.location, mapping["date"], str(exc), _raw(row)))
    escalated: bool | None = None
    try:
        escalated = parse_flag(cell("escalated"))
    except ValueError as exc:
        errors.append(RowError(path, row.location, mapping["escalated"], str(exc), _raw(row)))
    if errors:
        return None, errors
    texts = {name: clean_text(cell(name)) for name in _TEXT_FIELDS}
    if "status" in texts:
        texts["status"] = status_of(texts["status"])  # 完了 -> 対応済: one vocabulary
    case_id = clean_text(cell("id")) or content_id(content, date, texts["title"])
    metadata = {col: text for col in metadata_columns if (text := clean_text(row.values.get(col)))}
    return Case(id=case_id, content=content, date=date, escalated=escalated,
                metadata=metadata, source=Path(path).name, **texts), []


def write_rejects(read: LedgerRead, out_path: str | Path | None = None) -> Path:
    """Write rejected rows beside the input (`<name>.rejected.csv`, UTF-8 with BOM for Excel)."""
    source = Path(read.path)
    out = Path(out_path) if out_path else source.with_name(f"{source.stem}.rejected.csv")
    columns: dict[str, None] = {}
    for error in read.errors:
        columns.update(dict.fromkeys(error.raw or {}))
    by_location: dict[str, list[RowError]] = {}
    for error in read.errors:
        by_location.setdefault(error.location, []).append(error)
    # backslashreplace: a lone surrogate from a JSON ledger is written as its \\ud800 escape
    with out.open("w", encoding="utf-8-sig", errors="backslashreplace", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["_location", "_errors", *columns])
        for location, errors in by_location.items():
            reasons = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
            raw = errors[0].raw or {}
            writer.writerow([location, reasons, *(raw.get(c, "") for c in columns)])
    return out
