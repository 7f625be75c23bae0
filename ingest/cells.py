"""Spreadsheet cells as text: the apostrophe that keeps Excel from running a cell as a formula.

Whatever we write for Excel (exports, cluster tables) guards every cell, headers
included: a ledger value or column name such as `=HYPERLINK(...)` or `@SUM(...)`
would otherwise run when the file is opened. Reading a CSV back removes the guard,
so an exported file re-imports unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def guard(value: object) -> object:
    """A text cell that Excel would read as a formula gets a leading '; other values pass."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def unguard(cell: str) -> str:
    """Undo `guard` (ours, and careful spreadsheets'), reading a CSV cell back."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_START and cell[1:2] else cell


class GuardedWriter:
    """csv.writer whose rows are guarded cell by cell."""

    def __init__(self, out: Any, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([guard(v) for v in row])
