"""What a damaged, read-only or full base says: SQLite and file-system errors turned into
messages that name the directory and the fix, instead of tracebacks.

`translated(root)` wraps every call of the KnowledgeBase facade (kb/storage/locking.py)
and the opening of a base; `quick_check` runs before every write, so a damaged file is
refused before anything is committed to it (an ingest used to commit its cases into a
corrupted file and then crash).
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.errors import KnowledgeBaseError


class DamagedBaseError(KnowledgeBaseError):
    """The SQLite file is damaged; only a backup can bring it back."""


class ReadOnlyBaseError(KnowledgeBaseError):
    """The base's directory cannot be written: searching works, changing it does not."""


class DiskFullError(KnowledgeBaseError):
    """No space left for a write; nothing was changed."""


_DAMAGED = ("malformed", "not a database", "disk i/o error", "database corrupt", "file is encrypted")
_READ_ONLY = ("readonly database", "read-only", "unable to open database file")
_FULL = ("database or disk is full", "disk is full")


def free_mb(root: Path) -> float:
    try:
        return shutil.disk_usage(root).free / (1024 * 1024)
    except OSError:
        return 0.0


FULL_BELOW_MB = 1.0  # less free space than this: SQLite cannot even make its WAL index


def is_full(root: Path) -> bool:
    return root.exists() and free_mb(root) < FULL_BELOW_MB


def damaged(root: Path, detail: str) -> DamagedBaseError:
    return DamagedBaseError(
        f"ナレッジベースの SQLite ファイルが壊れています / the SQLite file of the knowledge base "
        f"in {root} is damaged ({detail}). Nothing was changed. Restore it from a backup: "
        f"`kb restore BACKUP_DIR {root} --force` (then `kb check`).")


def read_only(root: Path) -> ReadOnlyBaseError:
    return ReadOnlyBaseError(
        f"ナレッジベースのフォルダーは読み取り専用です / the knowledge base directory {root} is "
        f"read-only: searching works, but nothing can be changed there. Copy it to a writable "
        f"place (`kb backup`, `kb restore`) or remount it read-write.")


def disk_full(root: Path) -> DiskFullError:
    return DiskFullError(
        f"ディスクがいっぱいです / disk full in {root} ({free_mb(root):.1f} MB free). Nothing was "
        f"changed; free some space and run the command again.")


def explain(exc: BaseException, root: Path) -> KnowledgeBaseError | None:
    """The user's version of an SQLite or OS error, or None when it is none of ours."""
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        if exc.filename and not _inside(Path(str(exc.filename)), root):
            return None  # about another file (a ledger one cannot read): not the base's state
        if exc.errno == errno.ENOSPC:
            return disk_full(root)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return read_only(root)
        return None
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    text = str(exc).lower()
    if any(word in text for word in _FULL) or is_full(root):  # a full disk fails as "I/O" too
        return disk_full(root)
    if any(word in text for word in _DAMAGED):
        return damaged(root, str(exc))
    if any(word in text for word in _READ_ONLY):
        return read_only(root)
    return None


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


@contextmanager
def translated(root: Path) -> Iterator[None]:
    """Re-raise SQLite and file-system errors we can explain as KnowledgeBaseError."""
    try:
        yield
    except (sqlite3.DatabaseError, OSError) as exc:
        if (better := explain(exc, root)) is None:
            raise
        raise better from exc


# database file -> the size and mtime of it and its WAL when it last passed quick_check or
# this process last wrote it: a check reads the whole file (seconds on a multi-GB base), so
# it runs again only after someone else changed the file.
_CHECKED: dict[Path, tuple[tuple[int, int], ...]] = {}


def _stamp(database: Path) -> tuple[tuple[int, int], ...]:
    stamps = []
    for path in (database, database.with_name(database.name + "-wal")):
        try:
            info = path.stat()
            stamps.append((info.st_size, info.st_mtime_ns))
        except OSError:
            stamps.append((-1, -1))
    return tuple(stamps)


def quick_check(db: sqlite3.Connection, root: Path, database: Path | None) -> None:
    """Refuse to write into a damaged file (PRAGMA quick_check: pages and records, no index
    cross-check), unless the file is as this process last checked or wrote it. No file (a
    PostgreSQL record store, `database` None): the server keeps its own pages whole."""
    if database is None:
        return
    stamp = _stamp(database)
    if _CHECKED.get(database) == stamp:
        return
    try:
        rows = [r[0] for r in db.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.DatabaseError as exc:
        raise damaged(root, str(exc)) from exc
    if rows != ["ok"]:
        raise damaged(root, "; ".join(rows))
    _CHECKED[database] = stamp


def written(database: Path | None) -> None:
    """This process has just written `database`: that change needs no check before the next."""
    if database is not None:
        _CHECKED[database] = _stamp(database)
