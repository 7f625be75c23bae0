"""The writer lock: one process at a time changes a knowledge base; readers never wait on it.

SQLite already serialises its own transactions, but a write is more than one
transaction: it reads what is stored, embeds, commits, then saves the FAISS
files. Two writers interleaving those steps would each save a FAISS file the
other one then overwrites. An advisory `fcntl.flock` on `write.lock` in the base
directory, held for the whole write, keeps them in turn; the kernel drops it when
the holder dies (even by SIGKILL), so a crashed ingest never leaves it stuck.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from kb.errors import WriterLockTimeout
from kb.settings import Settings
from kb.storage import health
from kb.storage.layout import WRITE_LOCK

log = logging.getLogger(__name__)

_POLL = 0.1


def default_timeout() -> float:
    """KB_LOCK_TIMEOUT, else ten minutes."""
    return Settings.from_env().lock_timeout


def _announce(path: Path) -> None:
    log.warning("別の取り込みが %s で実行中です。終わるまで待ちます / another ingest is running "
                "in %s; waiting for it to finish (lock file %s)", path.parent, path.parent, path)


def wait_for(try_acquire: Callable[[], bool], timeout: float, holder: str) -> None:
    """Poll `try_acquire` until it succeeds; after `timeout` seconds raise WriterLockTimeout,
    saying who holds the lock (`holder`): the file lock and PostgreSQL's advisory lock."""
    deadline = time.monotonic() + timeout
    while not try_acquire():
        if time.monotonic() >= deadline:
            raise WriterLockTimeout(
                f"別の取り込みが {timeout:.0f} 秒たっても終わりません / {holder} after "
                f"{timeout:.0f} s. Wait for it to finish, or raise KB_LOCK_TIMEOUT.")
        time.sleep(_POLL)


class WriterLock:
    """Re-entrant (per process) exclusive lock on one base directory's `write.lock`."""

    def __init__(self, root: Path, timeout: float | None = None,
                 on_wait: Callable[[Path], None] = _announce) -> None:
        self.path = root / WRITE_LOCK
        self.timeout = timeout
        self.on_wait = on_wait
        self._fd: int | None = None
        self._depth = 0
        self._mutex = threading.RLock()
        self.read_only = False

    @property
    def held(self) -> bool:
        return self._depth > 0

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits. False on a read-only directory too
        (`read_only` then says so): nobody can write there."""
        if not self._mutex.acquire(blocking=False):
            return False  # another thread of this process is writing
        if self._depth:
            self._depth += 1
            return True
        try:
            fd = self._open()
        except OSError as exc:
            self._mutex.release()
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                self.read_only = True
                return False
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self._mutex.release()
            return False
        self._fd, self._depth = fd, 1
        return True

    def acquire(self) -> None:
        """Wait for the lock (saying so once), up to the timeout; then raise WriterLockTimeout."""
        if self.try_acquire():
            return
        if self.read_only:
            raise health.read_only(self.path.parent)
        timeout = default_timeout() if self.timeout is None else self.timeout
        self.on_wait(self.path)
        wait_for(self.try_acquire, timeout, f"another ingest still holds the writer lock {self.path}")

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._mutex.release()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


T = TypeVar("T")


def serialised(method: Callable[..., T]) -> Callable[..., T]:
    """Serialise calls on `self._lock`: the app serves many sessions from threads of one
    process, sharing one SQLite connection and the FAISS indexes."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: object, **kwargs: object) -> T:
        with self._lock, health.translated(self.layout.root):
            return method(self, *args, **kwargs)

    return wrapper


def writing(method: Callable[..., T]) -> Callable[..., T]:
    """Also hold the base's writer lock (`self.writer`) for the whole call: other processes
    wait for it, readers never do. A damaged SQLite file is refused before anything is written."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: object, **kwargs: object) -> T:
        with self._lock, health.translated(self.layout.root), self.writer():
            health.quick_check(self.store.db, self.layout.root, self.store.path)
            result = method(self, *args, **kwargs)
            health.written(self.store.path)
            return result

    return wrapper
