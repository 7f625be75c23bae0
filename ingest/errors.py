"""Errors raised while reading input files.

Each one names the file, and where it applies the row and the field, so that
a knowledge manager can open the file and fix it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.errors import KBError


class IngestError(KBError):
    """A whole file cannot be read (unknown format, undecodable, no content column)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled back from a parsing child (ingest/sandbox.py): rebuilt from its state, as
        # the default would call __init__ with the one formatted message.
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type[IngestError], args: tuple[object, ...], state: dict[str, object]) -> IngestError:
    error = Exception.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


@dataclass(frozen=True)
class RowError:
    """One rejected row: where it is, which field, and why."""

    path: str
    location: str  # "line 12", "row 7" (Excel), "record 3" (JSON array)
    field: str
    message: str
    raw: dict[str, str] | None = None

    def __str__(self) -> str:
        where = f"{self.path}, {self.location}"
        if self.field:
            where += f", column '{self.field}'"
        return f"{where}: {self.message}"


class LedgerError(IngestError):
    """A ledger has invalid rows; nothing from it was written."""

    def __init__(self, path: str, errors: list[RowError]) -> None:
        shown = "\n".join(f"  - {e}" for e in errors[:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(
            path,
            f"{len(errors)} invalid row(s); nothing was written "
            f"(fix them, or use --skip-invalid to ingest the rest):\n{shown}{more}",
        )
        self.errors = errors
