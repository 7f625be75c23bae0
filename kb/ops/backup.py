"""`kb backup` / `kb restore`: a consistent copy of a live base, and back.

The SQLite file is copied with SQLite's online backup API, which copies one
committed state even while other processes read or write; a file copy of a WAL
database could catch it half-way. The FAISS files go along when they reflect
that same state (else restore rebuilds them from SQLite). `backup.json` records
what the copy holds and a SHA-256 of the SQLite file, checked on restore.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.errors import BackupError
from kb.index.faiss import file_version
from kb.ops.check import CheckReport, check_base
from kb.settings import Settings
from kb.storage.database import manifest_of
from kb.storage.layout import BACKUP_MANIFEST as MANIFEST_NAME
from kb.storage.layout import DATABASE, DERIVED_FILES, WRITE_LOCK
from kb.storage.locking import WriterLock

BACKUP_FORMAT = 1


@dataclass(frozen=True)
class BackupManifest:
    format: int
    created_at: str
    source: str
    state_version: int
    schema_version: int
    model: str
    dim: int
    cases: int
    chunks: int
    documents: int
    sqlite_sha256: str
    faiss_files: list[str]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_database(source: Path, target: Path) -> None:
    """SQLite online backup of `source` into `target` (created or overwritten in place)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30.0)
    dst = sqlite3.connect(target, timeout=30.0)
    try:
        src.backup(dst)  # all pages in one step: one committed state
        # A single self-contained file: no -wal beside it for a plain copy to miss.
        dst.execute("PRAGMA journal_mode = DELETE")
    finally:
        dst.close()
        src.close()


def _empty_or_missing(directory: Path) -> bool:
    return not directory.exists() or not any(directory.iterdir())


def _embedded_only(command: str) -> None:
    """kb backup/restore copy the SQLite file: on the server backend, say what to use instead."""
    if Settings.from_env().backend != "sqlite":
        raise BackupError(f"{command} はこの端末の組み込みナレッジベース用です / {command} copies an "
                          "embedded base; on KB_BACKEND=postgres+milvus back up PostgreSQL with "
                          "pg_dump (then `kb check` rebuilds Milvus from it), or copy it out "
                          "with `kb migrate --to sqlite --index DIR`")


def backup(root: Path, target: Path) -> BackupManifest:
    """Copy the base at `root` into the empty (or new) directory `target`."""
    _embedded_only("kb backup")
    database = root / DATABASE
    if not database.exists():
        raise BackupError(f"ナレッジベースがありません / no knowledge base at {root}")
    if not _empty_or_missing(target):
        raise BackupError(f"バックアップ先が空ではありません / {target} is not empty; "
                          f"give a new or empty directory")
    target.mkdir(parents=True, exist_ok=True)
    copy = target / DATABASE
    _copy_database(database, copy)
    db = sqlite3.connect(copy)
    try:
        manifest = manifest_of(db)
        one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
        counts = (one("SELECT count(*) FROM cases"), one("SELECT count(*) FROM chunks"),
                  one("SELECT count(*) FROM documents"))
    finally:
        db.close()
    faiss_files = []
    for name, key in ((d.name, d.version_key) for d in DERIVED_FILES):
        # Only a file that reflects the copied state; copy then re-check (a writer may swap it).
        if file_version(root / name) == manifest.version_of(key):
            shutil.copyfile(root / name, target / name)
            if file_version(target / name) == manifest.version_of(key):
                faiss_files.append(name)
            else:
                (target / name).unlink()
    record = BackupManifest(
        BACKUP_FORMAT, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), str(root),
        manifest.state_version, manifest.schema_version, manifest.model or "", manifest.dim,
        *counts, _sha256(copy),
        faiss_files)
    (target / MANIFEST_NAME).write_text(json.dumps(asdict(record), ensure_ascii=False, indent=2),
                                        encoding="utf-8")
    return record


def read_manifest(source: Path) -> BackupManifest:
    """The backup's manifest, after checking the SQLite copy is the one it describes."""
    path = source / MANIFEST_NAME
    try:
        record = BackupManifest(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise BackupError(f"{source} はバックアップではありません / {source} is not a kb backup "
                          f"(no readable {MANIFEST_NAME}: {exc})") from None
    if record.format != BACKUP_FORMAT:
        raise BackupError(f"backup format {record.format} is not {BACKUP_FORMAT}")
    if not (source / DATABASE).exists() or _sha256(source / DATABASE) != record.sqlite_sha256:
        raise BackupError(f"バックアップが壊れています / {source / DATABASE} is missing or does "
                          f"not match the checksum in {MANIFEST_NAME}")
    return record


def restore(source: Path, root: Path, force: bool = False) -> tuple[BackupManifest, CheckReport]:
    """Restore the backup in `source` as the base at `root`; then check (and rebuild FAISS)."""
    _embedded_only("kb restore")
    record = read_manifest(source)
    present = {p.name for p in root.iterdir()} - {WRITE_LOCK} if root.exists() else set()
    if present and not force:
        what = "ナレッジベースがあります / already holds a knowledge base" \
            if DATABASE in present else "空ではありません / is not empty"
        raise BackupError(f"{root} {what}; give a new directory, or --force to replace it")
    root.mkdir(parents=True, exist_ok=True)
    with WriterLock(root)():
        # Into the live file through SQLite (not a rename), so an old -wal cannot be replayed
        # over the restored pages, and open readers see the new state at their next query.
        _copy_database(source / DATABASE, root / DATABASE)
        db = sqlite3.connect(root / DATABASE, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.close()
        for name in (d.name for d in DERIVED_FILES):
            if name in record.faiss_files and (source / name).exists():  # else rebuilt below
                tmp = root / f".{name}.restore.tmp"
                shutil.copyfile(source / name, tmp)
                tmp.replace(root / name)
            else:
                (root / name).unlink(missing_ok=True)
    return record, check_base(root, repair=True)
