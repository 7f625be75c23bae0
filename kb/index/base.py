"""The two contracts a search index implements, and the lifecycle of a derived file.

`search.py` talks to indexes only through these protocols, so another engine (a
server-side vector store, another BM25) plugs in as one new module that passes the
backend battery in tests/test_backends.py. Indexes are *derived*: the record store
(SQLite) is the truth, a derived file carries the state version it reflects and is
written atomically, and a missing or stale one is rebuilt from the record store.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

from kb.storage import faults
from kb.storage.filters import Filters
from kb.storage.health import free_mb

log = logging.getLogger(__name__)


class VectorBackend(Protocol):
    """Inner-product search over unit vectors keyed by chunk id."""

    dim: int

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray | list[int]) -> None: ...

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, chunk ids), best first; `allowed` restricts to those ids."""
        ...

    def vectors_for(self, ids: list[int]) -> np.ndarray:
        """Stored vectors of these chunk ids (exact scores of candidates found lexically)."""
        ...


class LexicalBackend(Protocol):
    """BM25 over chunks, with the case each chunk belongs to (the four calls search makes)."""

    def top(self, match: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        """(chunk id, score) best first for an FTS5 OR-query; filters act before the cut."""
        ...

    def scores_of(self, match: str, chunk_ids: list[int]) -> dict[int, float]:
        """Exact scores of given chunks, only those where some term occurs."""
        ...

    def owners_of(self, chunk_ids: list[int]) -> dict[int, str]:
        """chunk id -> case id."""
        ...

    def chunks_of(self, case_ids: list[str], with_vector: bool = False) -> dict[str, list[int]]:
        """case id -> its chunk ids (only embedded ones if `with_vector`)."""
        ...


def atomic_write(path: Path, write: Callable[[BinaryIO], None], suffix: str = ".tmp",
                 fault: str | None = None) -> None:
    """Write a derived file so readers see the old file or the new one, never half of one:
    a temp file beside it, fsync, rename, fsync the directory. `fault` names the crash
    points around the rename (kb/storage/faults.py)."""
    tmp = path.with_name(temp_name(path.name, suffix))
    try:
        with tmp.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if fault:
            faults.point(f"{fault}-before-rename")
        os.replace(tmp, path)
    except BaseException:  # a full disk, say: no half-written file stays behind
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    if fault:
        faults.point(f"{fault}-after-rename")


def save_or_serve(path: Path, save: Callable[[], None], read_only_ok: bool = False) -> bool:
    """Run `save` (an atomic_write of `path`) and say whether the file was written.

    On a full disk, and with `read_only_ok` in a read-only directory, the file is left as it
    was and the caller keeps serving the index it holds in memory: the data is safe in the
    record store and a stale or missing file is rebuilt on the next start. atomic_write has
    already removed its temp file. Other errors are raised.
    """
    try:
        save()
        return True
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            where, free, name = path.parent, free_mb(path.parent), path.name
            log.warning("ディスクがいっぱいです（%s、空き %.1f MB）。%s は保存されず、検索はメモリ上の索引で"
                        "続けます / disk full in %s (%.1f MB free): %s was not saved; searches use the "
                        "index in memory, and it is rebuilt from SQLite on the next start",
                        where, free, name, where, free, name)
            return False
        if read_only_ok and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            log.info("%s is read-only: %s not saved, kept in memory", path.parent, path.name)
            return False
        raise


def temp_name(name: str, suffix: str = ".tmp") -> str:
    """The temp file beside `name` (hidden, per process); kb check removes leftovers."""
    return f".{name}.{os.getpid()}{suffix}"


TEMP_GLOB = ".*.*.tmp*"  # what temp_name makes, for any derived file


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: some file systems refuse directory fsync)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
