"""A case typed into the record form: the same rules as a ledger row, checked per field.

The app's record and edit pages call `case_from_form`; the problems come back as
codes per field so the page can say them in the user's language next to the field.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import replace

from ingest.fields import normalize_header
from ingest.masking import MaskPolicy
from ingest.records import Case
from ingest.values import clean_text, scrub, status_of, visible

REQUIRED: tuple[str, ...] = ("date", "content")
# A case marked as handled must say how it was handled. 完了: bases stored before the
# statuses were unified (ingest/values.py status_of).
DONE_STATUSES: tuple[str, ...] = ("対応済", "完了")
STATUSES: tuple[str, ...] = ("対応中", "対応済", "保留")
SEVERITIES: tuple[str, ...] = ("高", "中", "低")
# Form fields kept as the case's extra columns: the column a case recorded in the app stores
# each under, and the ledger headers that hold the same thing (compared as normalize_header
# folds them; 担当者 is neither: ledgers use it for whoever handled the case). 受付者 (who took
# the complaint) is an employee's name: like 担当者 and 対応者 it is a name column, masked
# whole on every ingest (ingest/masking.py NAME_COLUMNS), so what is stored is ＜氏名＞.
METADATA_FIELDS: dict[str, str] = {"department": "担当部署", "received_by": "受付者"}
METADATA_ALIASES: dict[str, tuple[str, ...]] = {
    "department": ("担当部署", "担当部門", "department"),
    "received_by": ("受付者", "受付者名", "受付担当", "受付担当者", "received by", "taken by"),
}
# Form fields whose whole value is a person's name (a draft stores them masked like a case).
NAME_FIELDS: frozenset[str] = frozenset(
    name for name, column in METADATA_FIELDS.items() if MaskPolicy().is_name_column(column))
_FOLDED = {name: frozenset(map(normalize_header, aliases))
           for name, aliases in METADATA_ALIASES.items()}
_TEXT = ("channel", "product", "category", "title", "content", "customer_request", "cause",
         "response", "prevention", "status", "severity")


def new_case_id(now: dt.datetime | None = None) -> str:
    """An id for a case recorded in the app: readable date and time, random tail (no clashes)."""
    now = now or dt.datetime.now()
    return f"R{now:%Y%m%d-%H%M}-{secrets.token_hex(2)}"


def format_when(day: dt.date | None, time: dt.time | None) -> str | None:
    """The stored date: 'YYYY-MM-DD', or 'YYYY-MM-DD HH:MM' when the time is known."""
    if day is None:
        return None
    return f"{day.isoformat()} {time:%H:%M}" if time is not None else day.isoformat()


def parse_when(value: str | None) -> tuple[dt.date | None, dt.time | None]:
    """Inverse of `format_when`, for pre-filling the edit form."""
    if not value:
        return None, None
    day = dt.date.fromisoformat(value[:10])
    time = dt.time.fromisoformat(value[11:16]) if len(value) >= 16 else None
    return day, time


def case_from_form(values: dict[str, object], case_id: str,
                   base: Case | None = None) -> tuple[Case | None, dict[str, str]]:
    """Validate the form; return the case or {field: problem code}.

    `values` holds 'date' (dt.date), 'time' (dt.time or None), 'escalated' (bool or None) and
    the text fields, and 'department' and 'received_by' (kept as the metadata columns 担当部署
    and 受付者, or the ledger's own columns for them). `base` is the
    stored case when editing: fields the form does not show (other metadata, source) are
    kept. Codes: 'required', 'required_when_done'.
    """
    # Typed text: what cannot be stored (NUL, half a surrogate pair, control codes) is dropped.
    texts = {name: scrub(clean_text(values.get(name))) for name in _TEXT}
    texts["status"] = status_of(texts["status"])
    day = values.get("date")
    problems: dict[str, str] = {}
    if not isinstance(day, dt.date):
        problems["date"] = "required"
    if not visible(texts["content"]):  # zero-width characters alone say nothing
        problems["content"] = "required"
    if texts["status"] in DONE_STATUSES and not texts["response"]:
        problems["response"] = "required_when_done"
    if problems:
        return None, problems
    time = values.get("time")
    when = format_when(day if isinstance(day, dt.date) else None,
                       time if isinstance(time, dt.time) else None)
    escalated = values.get("escalated")
    fields = {**texts, "date": when, "escalated": escalated if isinstance(escalated, bool) else None,
              "metadata": _metadata(values, base.metadata if base else {})}
    if base is not None:
        return replace(base, **fields), {}
    return Case(id=case_id, source="app", **fields), {}


def metadata_column(metadata: dict[str, str], name: str) -> str:
    """The column of `metadata` that holds form field `name` (a ledger's 受付担当 as well as
    受付者), else the column a new case stores it under."""
    return next((column for column in metadata if normalize_header(column) in _FOLDED[name]),
                METADATA_FIELDS[name])


def metadata_value(case: Case, name: str) -> str:
    """Form field `name` of a stored case ('' when its ledger had no such column)."""
    return case.metadata.get(metadata_column(case.metadata, name), "")


def _metadata(values: dict[str, object], kept: dict[str, str]) -> dict[str, str]:
    """The stored extra columns with the form's 担当部署 and 受付者 applied (emptied:
    removed), each in the column the case already has for it; a form without those fields
    leaves them as they were."""
    out = dict(kept)
    for name in METADATA_FIELDS:
        column = metadata_column(kept, name)
        if name in values:
            text = clean_text(values[name])
            if text:
                out[column] = text
            else:
                out.pop(column, None)
    return out
