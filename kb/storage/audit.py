"""The audit log: who changed the knowledge base, when, what, and how much.

Each write records its event inside its own transaction, so the log and the
data cannot disagree. Who is acting comes from a context variable: the CLI sets
it once (`--actor`, $KB_ACTOR, else the OS user); the app wraps each manager
action in `acting_as(name)`, which is safe across the app's session threads.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import getpass
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

from kb.settings import Settings
from kb.storage.database import Database

_ACTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("kb_actor", default=None)
_TARGET_LIMIT = 500  # a delete of 10,000 ids keeps its count, not every id


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One recorded write."""

    id: int
    at: str  # ISO 8601, UTC
    actor: str
    action: str  # ingest_ledger, ingest_cases, delete_cases, ingest_document, ...
    target: str
    counts: dict[str, int] = field(default_factory=dict)
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "at": self.at, "actor": self.actor, "action": self.action,
                "target": self.target, "counts": self.counts, "detail": self.detail}


def default_actor() -> str:
    """$KB_ACTOR, else the operating-system user."""
    if name := Settings.from_env().actor:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no user name in containers without a passwd entry
        return "unknown"


def current_actor() -> str:
    return _ACTOR.get() or default_actor()


def set_actor(name: str | None) -> None:
    """Set the actor for the rest of this context (the CLI, once per process)."""
    _ACTOR.set(name.strip() if name and name.strip() else None)


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Record writes inside the block as done by `name` (the signed-in manager)."""
    token = _ACTOR.set(name)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def record(db: sqlite3.Connection, action: str, target: str = "",
           counts: dict[str, int] | None = None, detail: str = "") -> None:
    """Add an event; call it inside the transaction of the write it describes."""
    if len(target) > _TARGET_LIMIT:
        target = target[: _TARGET_LIMIT - 1] + "…"
    db.execute("INSERT INTO audit_log (at, actor, action, target, counts, detail) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               (_now(), current_actor(), action, target,
                json.dumps(counts or {}, ensure_ascii=False, sort_keys=True), detail))


def record_now(store: Database, action: str, target: str = "", detail: str = "",
               actor: str | None = None) -> bool:
    """An event that is its own write (a failed sign-in, by the name typed); skipped (False)
    rather than waiting while an ingest holds the database."""
    who = (actor or "").strip()[:100] or current_actor()
    return store.try_write("INSERT INTO audit_log (at, actor, action, target, counts, detail) "
                           "VALUES (?, ?, ?, ?, '{}', ?)",
                           (_now(), who, action, target[:_TARGET_LIMIT], detail))


def events(db: sqlite3.Connection, limit: int = 100, action: str | None = None,
           case_id: str | None = None) -> list[AuditEvent]:
    """Newest first; with `case_id`, that case's history (events_for)."""
    if case_id:
        return events_for(db, case_id, limit)
    where, params = ("WHERE action = ?", [action]) if action else ("", [])
    rows = db.execute(f"SELECT id, at, actor, action, target, counts, detail FROM audit_log "
                      f"{where} ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
    return [AuditEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "{}"), r[6]) for r in rows]


def events_for(db: sqlite3.Connection, name: str, limit: int = 50) -> list[AuditEvent]:
    """Events whose target names `name` (a case id among the ids a write lists), newest first."""
    rows = db.execute("SELECT id, at, actor, action, target, counts, detail FROM audit_log "
                      "WHERE instr(target, ?) > 0 ORDER BY id DESC", [name]).fetchall()
    out = [AuditEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "{}"), r[6]) for r in rows
           if name in (part.strip() for part in r[4].replace("…", ",").split(","))]
    return out[:limit]


# ---- which fields an edit changed: written into the event's detail, read back by the case
# page's history (one format, kept here beside the log it is written into) ----
_FIELDS = "fields: "


def changed_fields(before: object, after: object) -> str:
    """'fields: prevention, 担当部署' for an edit of one case (Case before and after): its
    changed fields, an extra column by its own name; '' when nothing changed."""
    names = [f.name for f in fields(before)
             if f.name not in ("metadata", "source")
             and getattr(before, f.name) != getattr(after, f.name)]
    keys = sorted(set(before.metadata) | set(after.metadata))
    names += [k for k in keys if before.metadata.get(k) != after.metadata.get(k)]
    return _FIELDS + ", ".join(names) if names else ""


def fields_in(detail: str) -> list[str]:
    """The field names a `changed_fields` detail lists ([] for any other detail)."""
    if not detail.startswith(_FIELDS):
        return []
    return [n.strip() for n in detail.removeprefix(_FIELDS).split(",") if n.strip()]
