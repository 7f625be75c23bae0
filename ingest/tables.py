"""Read tabular files (CSV/TSV, XLSX, JSON, JSONL) into header + located rows.

Encodings: UTF-8 (with or without BOM), UTF-16 with BOM, and the CP932 /
Shift_JIS and EUC-JP exports Japanese office software still writes.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from ingest.archives import zip_problem
from ingest.cells import unguard
from ingest.errors import IngestError
from ingest.sandbox import capped
from ingest.values import clean_text

LEDGER_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".json", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class Row:
    """One data row and where it came from ("line 12", "row 7", "record 3")."""

    location: str
    values: dict[str, object]
    error: str = ""  # set when the row itself could not be parsed (bad JSON line)


@dataclass(frozen=True)
class Table:
    """A file's header and rows, before any mapping to case fields."""

    headers: list[str]
    rows: list[Row]
    file_format: str
    encoding: str


TEXT_ENCODINGS = ("utf-8", "utf-8-sig", "cp932", "euc_jp", "utf-16", "utf-32")


def read_table(path: Path, encoding: str | None = None, max_rows: int | None = None,
               max_memory: int | None = None) -> Table:
    """Read any supported ledger file; IngestError names the file and the problem.

    `encoding` overrides detection for text files (the app lets users correct a bad guess);
    a workbook is read only up to `max_rows` + 1 rows (the caller refuses it then), in a
    child process that may use `max_memory` bytes (ingest/sandbox.py; None: in this one).
    """
    suffix = path.suffix.lower()
    if not path.exists():
        raise IngestError(str(path), "file not found")
    if suffix == ".xls":
        raise IngestError(str(path), "old .xls workbooks are not supported; save as .xlsx or CSV")
    if suffix not in LEDGER_SUFFIXES:  # before decoding: a PDF is not "undecodable text"
        raise IngestError(
            str(path), f"unsupported ledger type '{suffix}' (use {', '.join(LEDGER_SUFFIXES)})"
        )
    if suffix in (".xlsx", ".xlsm"):
        if problem := zip_problem(path):
            raise IngestError(str(path), problem)
        return capped(str(path), max_memory, _read_xlsx, path, max_rows)
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(str(path), "the file is empty")
    text, encoding = (_decode_as(data, encoding, str(path)) if encoding
                      else decode_bytes(data, str(path)))
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(text, encoding)
    if suffix == ".json":
        return _read_json(text, encoding, str(path))
    return _read_delimited(text, encoding, str(path), tab=suffix == ".tsv" or _looks_tabbed(text))


def decode_bytes(data: bytes, path: str) -> tuple[str, str]:
    """Decode a text file, telling CP932 from EUC-JP by which gives more real Japanese."""
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        if bom:
            return data[bom:].decode("utf-8"), "utf-8-sig"
        if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):  # before UTF-16's
            return data.decode("utf-32"), "utf-32"
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16"), "utf-16"
    except UnicodeDecodeError as exc:  # e.g. Shift_JIS text pasted into a UTF-8 file
        raise IngestError(path, f"starts with a Unicode byte-order mark but byte {exc.start + bom} "
                                "is not valid in that encoding; save it again as UTF-8") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates = []
    for encoding in ("cp932", "euc_jp"):
        try:
            candidates.append((_japanese_share(data.decode(encoding)), encoding))
        except UnicodeDecodeError:
            continue
    if not candidates:
        raise IngestError(path, "cannot decode the text: save it as UTF-8 or Shift_JIS (CP932)")
    _, encoding = max(candidates)
    return data.decode(encoding), encoding


def _decode_as(data: bytes, encoding: str, path: str) -> tuple[str, str]:
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        raise IngestError(path, f"byte {exc.start} is not valid {encoding}; choose another "
                                "encoding") from None
    except LookupError:
        raise IngestError(path, f"unknown encoding '{encoding}'") from None


def _japanese_share(text: str) -> float:
    """Share of hiragana and common kanji: high for a right guess, low for mojibake."""
    if not text:
        return 0.0
    good = sum(1 for ch in text if "\u3041" <= ch <= "\u309f" or "\u4e00" <= ch <= "\u9fff")
    odd = sum(1 for ch in text if "\uff61" <= ch <= "\uff9f")  # half-width kana: cp932 misreads
    return (good - 2 * odd) / len(text)


def _looks_tabbed(text: str) -> bool:
    first = text.split("\n", 1)[0]
    return first.count("\t") > first.count(",")


def _filled(record: list[object] | tuple[object, ...]) -> int:
    """Non-empty cells: a one-cell row above a wider one is a title (台帳名), not the header."""
    return sum(1 for cell in record if clean_text(cell))


def _unique_headers(raw: list[object]) -> list[str]:
    """Header names, made unique (a second 備考 becomes 備考_2; an empty one column7), in one
    pass: 100k header cells took minutes with a list scan per name."""
    headers: list[str] = []
    taken: set[str] = set()
    next_suffix: dict[str, int] = {}
    for i, value in enumerate(raw):
        name = clean_text(value) or f"column{i + 1}"
        base, n = name, next_suffix.get(name, 2)
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        next_suffix[base] = n
        taken.add(name)
        headers.append(name)
    return headers


# csv refuses a cell over 131,072 characters and the whole file with it; the field limit
# (ingest/limits.py) rejects only such a cell's row, so let csv read any cell the file holds.
_CSV_FIELD_LIMIT = 2**31 - 1


def _read_delimited(text: str, encoding: str, path: str, tab: bool) -> Table:
    delimiter = "\t" if tab else ","
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers: list[str] | None = None
    pending: tuple[list[str], int] | None = None
    rows: list[Row] = []
    start = last_start = header_line = 1
    try:
        for record in reader:
            last_start, start = start, reader.line_num + 1
            location = f"line {last_start}"
            if not any(cell.strip() for cell in record):
                continue
            if headers is None:
                if pending is None and _filled(record) == 1:
                    pending = (record, last_start)  # a title line above the header?
                    continue
                if pending is not None and _filled(record) < 2:
                    headers, header_line = _unique_headers(list(map(unguard, pending[0]))), pending[1]
                else:
                    headers, header_line = _unique_headers(list(map(unguard, record))), last_start
                    continue
            values: dict[str, object] = dict(zip(headers, map(unguard, record), strict=False))
            error = ""
            if len(record) > len(headers) and any(c.strip() for c in record[len(headers):]):
                error = f"{len(record)} cells but the header has {len(headers)} columns"
            rows.append(Row(location, values, error))
    except csv.Error as exc:  # e.g. a cell over the csv field limit after an unclosed quote
        raise IngestError(path, f"line {start}: {exc} (is a closing quote \" missing?)") from None
    if headers is None and pending is not None:
        headers, header_line = _unique_headers(list(map(unguard, pending[0]))), pending[1]
    if headers is None:
        raise IngestError(path, "no header row found")
    end = reader.line_num
    if end > last_start and _quote_left_open(text, last_start, delimiter):
        # csv silently reads an unclosed quote to the end of the file: every later row
        # would vanish into one cell, so refuse that row instead.
        message = (f"a quoted cell opened on line {last_start} is never closed, so lines "
                   f"{last_start}-{end} were read as one row (add the missing closing quote \")")
        if rows and rows[-1].location == f"line {last_start}":
            rows[-1] = Row(rows[-1].location, rows[-1].values, message)
        elif header_line == last_start:
            raise IngestError(path, f"the header row is broken: {message}")
    return Table(headers, rows, "tsv" if tab else "csv", encoding)


def _quote_left_open(text: str, line: int, delimiter: str) -> bool:
    """Whether the record starting on `line` ends inside a quoted cell at end of file."""
    tail = "".join(io.StringIO(text, newline="").readlines()[line - 1:])
    try:
        for _ in csv.reader(io.StringIO(tail, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _read_xlsx(path: Path, max_rows: int | None = None) -> Table:
    try:
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise IngestError(str(path), f"not a readable Excel workbook ({exc})") from None
    try:
        sheet = workbook.active
        headers: list[str] | None = None
        pending: list[object] | None = None
        rows: list[Row] = []
        for number, record in enumerate(sheet.iter_rows(values_only=True), start=1):
            if not any(clean_text(c) for c in record):
                continue
            if headers is None:
                if pending is None and _filled(record) == 1:
                    pending = list(record)  # a title row above the header?
                    continue
                if pending is not None and _filled(record) < 2:
                    headers = _unique_headers(pending)
                else:
                    headers = _unique_headers(list(record))
                    continue
            rows.append(Row(f"row {number}", dict(zip(headers, record, strict=False))))
            if max_rows is not None and len(rows) > max_rows:
                break  # over the limit already: stop streaming (a 1M-row sheet took 85 s)
        if headers is None and pending is not None:
            headers = _unique_headers(pending)
    finally:
        workbook.close()
    if headers is None:
        raise IngestError(str(path), "the first sheet is empty")
    return Table(headers, rows, "xlsx", "xlsx")


class JsonText(str):
    """A nested JSON list or object kept as its JSON text (a ledger can tell it was not text)."""


def _flatten(obj: dict[str, object]) -> dict[str, object]:
    return {
        str(k): JsonText(json.dumps(v, ensure_ascii=False)) if isinstance(v, (dict, list)) else v
        for k, v in obj.items()
    }


_TOO_DEEP = "nested too deeply to read (a ledger is a flat list of records)"


def _collect_headers(rows: list[Row]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row.values))
    return list(seen)


def _read_jsonl(text: str, encoding: str) -> Table:
    rows: list[Row] = []
    # split on "\n" only: str.splitlines() also breaks at U+2028/U+0085, which JSON strings
    # may hold unescaped, and would cut such records in half.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append(Row(f"line {number}", {}, f"not valid JSON ({exc.msg})"))
            continue
        except RecursionError:  # json's parser recurses per level: a hostile line of [[[[...
            rows.append(Row(f"line {number}", {}, f"not a ledger record: {_TOO_DEEP}"))
            continue
        rows.append(_record_row(f"line {number}", obj))
    return Table(_collect_headers(rows), rows, "jsonl", encoding)


def _read_json(text: str, encoding: str, path: str) -> Table:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(path, f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise IngestError(path, f"not a ledger: {_TOO_DEEP}") from None
    if isinstance(data, dict):
        lists = [v for k, v in data.items() if isinstance(v, list) and k in
                 ("cases", "records", "data", "items", "rows", "complaints")]
        data = lists[0] if lists else [data]
    if not isinstance(data, list):
        raise IngestError(path, "expected a JSON array of objects")
    rows = [_record_row(f"record {i}", obj) for i, obj in enumerate(data, start=1)]
    return Table(_collect_headers(rows), rows, "json", encoding)


def _record_row(location: str, obj: object) -> Row:
    if not isinstance(obj, dict):
        return Row(location, {}, "expected a JSON object")
    try:
        return Row(location, _flatten(obj))
    except RecursionError:  # a value nested nearly as deep as the parser allows
        return Row(location, {}, f"not a ledger record: {_TOO_DEEP}")
