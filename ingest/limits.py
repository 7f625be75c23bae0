"""Size limits on what may be ingested: upload bytes, rows per file, characters per field.

They keep one careless export (or a hostile upload) from filling the disk, the memory,
the embedder's queue or a result card. Defaults suit a laptop; the environment
(KB_MAX_UPLOAD_MB, KB_MAX_ROWS, KB_MAX_FIELD_CHARS, KB_MAX_PARSE_MB) or CLI flags change them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.errors import IngestError
from ingest.records import Case
from ingest.values import MAX_ID_CHARS, id_problem, text_problem

CASE_TEXT_FIELDS = ("id", "title", "content", "customer_request", "cause", "response",
                    "prevention", "category", "product", "channel", "severity", "status")

DEFAULT_MAX_UPLOAD_MB = 50
DEFAULT_MAX_ROWS = 200_000
DEFAULT_MAX_FIELD_CHARS = 20_000
DEFAULT_MAX_COLUMNS = 1_000  # real ledgers have tens; 100k header cells took minutes to map
# Memory one workbook or Word file may take while it is parsed (ingest/sandbox.py): a
# 200,000-row workbook, the row limit, stays well below it.
DEFAULT_MAX_PARSE_MB = 2_048


class LimitError(IngestError):
    """An input is over a configured limit; nothing from it was written."""


@dataclass(frozen=True)
class Limits:
    """How much one input may hold."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    max_rows: int = DEFAULT_MAX_ROWS
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS
    max_columns: int = DEFAULT_MAX_COLUMNS
    max_parse_bytes: int = DEFAULT_MAX_PARSE_MB * 1024 * 1024

    def check_size(self, path: str, size: int) -> None:
        """Refuse a file larger than the upload limit before reading it."""
        if size > self.max_upload_bytes:
            raise LimitError(path, f"the file is {_mb(size)}, over the upload limit of "
                                   f"{_mb(self.max_upload_bytes)} (KB_MAX_UPLOAD_MB); split it "
                                   "into smaller files")

    def check_rows(self, path: str, rows: int) -> None:
        """Refuse a ledger with more data rows than the limit."""
        if rows > self.max_rows:  # a workbook is read only up to max_rows + 1 rows
            count = f"more than {self.max_rows:,}" if rows == self.max_rows + 1 else f"{rows:,}"
            raise LimitError(path, f"{count} rows, over the limit of {self.max_rows:,} rows per "
                                   "file (KB_MAX_ROWS); split the ledger into smaller files")

    def check_columns(self, path: str, columns: int) -> None:
        """Refuse a ledger with more columns than the limit, before mapping them."""
        if columns > self.max_columns:
            raise LimitError(path, f"{columns:,} columns, over the limit of {self.max_columns:,} "
                                   "(KB_MAX_COLUMNS); is this a ledger? Remove the unused columns")

    def field_problem(self, value: str) -> str:
        """Why a cell is too long, or '' when it fits."""
        if len(value) <= self.max_field_chars:
            return ""
        return (f"{len(value):,} characters, over the limit of {self.max_field_chars:,} per field "
                "(KB_MAX_FIELD_CHARS)")

    def check_case(self, case: Case) -> None:
        """Refuse a single case (not from a ledger) with an over-long field."""
        where = f"case {case.id[:MAX_ID_CHARS]}"
        if problem := id_problem(case.id):
            raise LimitError(where, f"field 'id': {problem}")
        fields = [(name, getattr(case, name) or "") for name in CASE_TEXT_FIELDS]
        for name, value in [*fields, *case.metadata.items(), ("source", case.source)]:
            if problem := self.field_problem(value) or text_problem(value) or text_problem(name):
                raise LimitError(where, f"field '{name}': {problem}")


def _mb(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
