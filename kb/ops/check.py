"""`kb check`: do SQLite, FTS5 and the FAISS files agree? Repair what is derived.

SQLite is the system of record, so only the FAISS files can be repaired here (they
are rebuilt from the vectors stored in SQLite, as opening the base would do). A
damaged SQLite file or an FTS5 index that disagrees with its chunks cannot be
repaired from inside the base: the report says so and points at `kb restore`.
Needs no embedding model, so it is quick to run after a crash.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kb.index.base import TEMP_GLOB
from kb.index.faiss import DerivedIndex, VectorIndex, file_version
from kb.settings import Settings
from kb.storage import health
from kb.storage.database import connect_read_only, iter_vectors, manifest_of
from kb.storage.layout import DERIVED_FILES, Layout
from kb.storage.locking import WriterLock
from kb.storage.schema import SCHEMA_VERSION

SPOT_CHECKS = 64  # vectors compared between FAISS and SQLite per index

# FAISS file, manifest key of the version it must carry, chunk table, its FTS5 table.


@dataclass
class Finding:
    """One check: what it looked at, whether it passed, and what was done about it."""

    name: str
    ok: bool
    detail: str
    repairable: bool = False
    repaired: bool = False

    @property
    def fine(self) -> bool:
        return self.ok or self.repaired


@dataclass
class CheckReport:
    root: Path
    findings: list[Finding] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """True when every check passed, or failed only on something now repaired."""
        return all(f.fine for f in self.findings)

    def to_dict(self) -> dict[str, object]:
        return {"directory": str(self.root), "consistent": self.consistent,
                "checks": [vars(f) for f in self.findings]}


def check_base(root: Path, repair: bool = True, spot_checks: int = SPOT_CHECKS,
               seed: int | None = None) -> CheckReport:
    """Check the base at `root` (waiting for any writer to finish); rebuild bad FAISS files
    from SQLite if `repair`. On KB_BACKEND=postgres+milvus: PostgreSQL against Milvus."""
    if Settings.from_env().backend != "sqlite":
        from kb.ops.check_servers import check_server_base

        return check_server_base(root, repair)
    report = CheckReport(root)
    database = Layout(root).database
    if not database.exists():
        report.findings.append(Finding("database", False, f"ナレッジベースがありません / no "
                                       f"knowledge base at {root} (no {database.name})"))
        return report
    full = health.is_full(root)  # nothing can be written, as on a read-only mount
    read_only = full or not os.access(root, os.W_OK)
    if read_only and repair:
        raise health.disk_full(root) if full else health.read_only(root)
    lock = WriterLock(root)
    with contextlib.nullcontext() if read_only else lock():  # nobody writes a read-only base
        try:
            db = (connect_read_only(database) if read_only
                  else sqlite3.connect(database, isolation_level=None, timeout=30.0))
        except sqlite3.DatabaseError as exc:
            report.findings.append(_damaged(root, exc))
            return report
        try:
            _check_all(db, root, report, repair, spot_checks, seed)
        except sqlite3.DatabaseError as exc:  # a header or page damaged beyond the checks
            report.findings.append(_damaged(root, exc))
        finally:
            db.close()
    return report


def _damaged(root: Path, exc: sqlite3.DatabaseError) -> Finding:
    return Finding("sqlite", False, str(health.damaged(root, str(exc))))


def _check_all(db: sqlite3.Connection, root: Path, report: CheckReport, repair: bool,
               spot_checks: int, seed: int | None) -> None:
    _check_sqlite(db, report)
    if not report.findings[-1].ok:
        return  # nothing below can be trusted on a damaged file
    rng = random.Random(seed)
    for derived in DERIVED_FILES:
        name, key, table, fts = (derived.name, derived.version_key, derived.table,
                                 derived.fts_table)
        _check_fts(db, table, fts, report)
        _check_faiss(db, root, name, key, table, report, repair, spot_checks, rng)
    _check_temp_files(root, report, repair)


def _check_sqlite(db: sqlite3.Connection, report: CheckReport) -> None:
    manifest = manifest_of(db)
    schema = manifest.schema_version
    report.findings.append(Finding(
        "schema", schema == SCHEMA_VERSION and manifest.model is not None and manifest.dim > 0,
        f"schema {schema} (expected {SCHEMA_VERSION}), model {manifest.model}, "
        f"dim {manifest.dim or None}, state version {manifest.state_version}"))
    rows = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
    ok = rows == ["ok"]
    report.findings.append(Finding(
        "sqlite", ok, "PRAGMA integrity_check: ok" if ok else
        "SQLite ファイルが壊れています / the SQLite file is damaged: " + "; ".join(rows[:5])
        + ". Restore it from a backup (`kb restore`)."))


def _check_fts(db: sqlite3.Connection, table: str, fts: str, report: CheckReport) -> None:
    problems = []
    try:
        db.execute(f"INSERT INTO {fts}({fts}) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as exc:
        if "readonly" not in str(exc):  # a read-only base: the id comparison below still runs
            problems.append(f"FTS5 integrity-check failed ({exc})")
    counts = db.execute(
        f"SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM {fts}), "
        f"(SELECT count(*) FROM {table} WHERE id NOT IN (SELECT rowid FROM {fts})), "
        f"(SELECT count(*) FROM {fts} WHERE rowid NOT IN (SELECT id FROM {table}))").fetchone()
    if counts[2] or counts[3]:
        problems.append(f"{counts[2]} chunks without FTS rows, {counts[3]} FTS rows without chunks")
    owner = ("SELECT count(*) FROM chunks WHERE case_id NOT IN (SELECT id FROM cases)"
             if table == "chunks" else
             "SELECT count(*) FROM doc_chunks WHERE document_id NOT IN (SELECT id FROM documents)")
    orphans = db.execute(owner).fetchone()[0]
    if orphans:
        problems.append(f"{orphans} chunks whose case/document is gone")
    if table == "chunks":
        bare = db.execute("SELECT count(*) FROM cases WHERE retired_at IS NULL AND id NOT IN "
                          "(SELECT case_id FROM chunks WHERE part = 'complaint')").fetchone()[0]
        if bare:
            problems.append(f"{bare} cases without complaint chunks")
        indexed = db.execute("SELECT count(DISTINCT c.case_id) FROM chunks c JOIN cases k "
                             "ON k.id = c.case_id WHERE k.retired_at IS NOT NULL").fetchone()[0]
        if indexed:  # retired cases leave the indexes (KnowledgeBase.retire_cases)
            problems.append(f"{indexed} retired cases still indexed")
    detail = (f"{table}: {counts[0]} rows, {fts}: {counts[1]} rows, same ids" if not problems
              else f"{table}/{fts}: " + "; ".join(problems)
              + ". SQLite と全文索引が食い違っています / restore from a backup (`kb restore`).")
    report.findings.append(Finding(f"fts:{table}", not problems, detail))


def _faiss_problem(db: sqlite3.Connection, path: Path, expected: int, dim: int, table: str,
                   spot_checks: int, rng: random.Random) -> str | None:
    """Why the FAISS file does not mirror `table` at version `expected`; None if it does."""
    if not path.exists():
        return "missing"
    version = file_version(path)
    if version != expected:
        return f"stale (version {version}, SQLite is at {expected})"
    loaded = VectorIndex.load(path)
    if loaded is None:
        return "unreadable or damaged (fails its checksum)"
    index = loaded[0]
    if index.dim != dim:
        return f"dimension {index.dim}, the model's is {dim}"
    ids = index.ids()
    stored = np.array([r[0] for r in db.execute(
        f"SELECT id FROM {table} WHERE vector IS NOT NULL ORDER BY id")], dtype=np.int64)
    if len(ids) != len(stored) or not np.array_equal(ids, stored):
        return f"{len(ids)} vectors, SQLite has {len(stored)} (ids differ)"
    bad = db.execute(f"SELECT count(*) FROM {table} WHERE vector IS NOT NULL AND length(vector) != ?",
                     (dim * 4,)).fetchone()[0]
    if bad:
        return f"{bad} SQLite vectors are not {dim} float32 values"
    sample = rng.sample(stored.tolist(), min(spot_checks, len(stored)))
    for chunk_id in sample:
        blob = db.execute(f"SELECT vector FROM {table} WHERE id = ?", (chunk_id,)).fetchone()[0]
        want = np.frombuffer(blob, dtype=np.float32)
        if not np.array_equal(index.vectors_for([int(chunk_id)])[0], want):
            return f"vector of chunk {chunk_id} differs from SQLite"
        if not np.isfinite(want).all() or abs(float(np.linalg.norm(want)) - 1.0) > 1e-3:
            return f"vector of chunk {chunk_id} is not a finite unit vector"
    return None


def _check_faiss(db: sqlite3.Connection, root: Path, name: str, key: str, table: str,
                 report: CheckReport, repair: bool, spot_checks: int, rng: random.Random) -> None:
    manifest = manifest_of(db)
    expected, dim = manifest.version_of(key), manifest.dim
    path = root / name
    problem = _faiss_problem(db, path, expected, dim, table, spot_checks, rng)
    count = db.execute(f"SELECT count(*) FROM {table} WHERE vector IS NOT NULL").fetchone()[0]
    if problem is None:
        report.findings.append(Finding(f"faiss:{name}", True, f"{name}: version {expected}, "
                                       f"{count} vectors, same ids as SQLite, "
                                       f"{min(spot_checks, count)} vectors spot-checked"))
        return
    finding = Finding(f"faiss:{name}", False, f"{name}: {problem}", repairable=True)
    if repair:
        # Rebuilt exactly as opening the base would; we hold the writer lock, so it is current.
        DerivedIndex(path, dim, lambda: iter_vectors(db, table)).sync(expected)
        after = _faiss_problem(db, path, expected, dim, table, spot_checks, rng)
        finding.repaired = after is None
        finding.detail += (f" → SQLite から再構築しました / rebuilt from SQLite ({count} vectors)"
                           if after is None else f" → rebuild failed: {after}")
    report.findings.append(finding)


def _check_temp_files(root: Path, report: CheckReport, repair: bool) -> None:
    """Half-written derived files a killed writer left behind (never read; only take space)."""
    leftovers = sorted(root.glob(TEMP_GLOB))
    finding = Finding("temp-files", not leftovers, f"{len(leftovers)} leftover temporary files"
                      + (": " + ", ".join(p.name for p in leftovers) if leftovers else ""),
                      repairable=bool(leftovers))
    if leftovers and repair:
        for path in leftovers:
            path.unlink(missing_ok=True)
        finding.repaired = True
        finding.detail += " → removed"
    report.findings.append(finding)
