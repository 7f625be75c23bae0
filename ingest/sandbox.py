"""Parse one uploaded file in a forked child under a memory cap, so that a file that swells
in memory fails with a message instead of taking the machine's memory (Linux).

The declared-size checks (ingest/archives.py) stop bombs before they are inflated, but
the parsers multiply what passes them: 64 MB of a docx's XML took 1.6 GB in ElementTree,
64 MB of shared strings 0.5 GB in openpyxl, and 512 MB may pass. A child made by fork
starts at once (no interpreter to start, nothing to import), gets a data limit
(RLIMIT_DATA: heap and private writable mappings, enforced since Linux 4.7) of its current
data size plus the cap, parses, and sends its result back pickled through a pipe.
RLIMIT_AS would count from the address space instead, which already holds the malloc
arenas' reserved but unused 64 MB: a child could use that much past the cap unnoticed.
Elsewhere (macOS, Windows) the file is parsed in this process, as before.

The cap counts new mappings only: heap this process had already freed (a long-lived app
after big work) can be reused by the child on top of it. So the cap is exact for `kb
ingest` and bounded by the app's own earlier peak in the app: a safety net, not a quota.
"""

from __future__ import annotations

import os
import pickle
import resource
import signal
import sys
from collections.abc import Callable
from typing import TypeVar

from ingest.errors import IngestError
from ingest.limits import LimitError

T = TypeVar("T")
_MEMORY_WORDS = ("out of memory", "no memory", "cannot allocate memory")


def supported() -> bool:
    """Whether parsing can be capped here: Linux, where fork and RLIMIT_DATA do what we need."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def capped(label: str, max_bytes: int | None, parse: Callable[..., T], *args: object) -> T:
    """parse(*args) in a child that may use at most `max_bytes` more memory than this process.

    Returns what it returns and raises what it raises (exceptions travel pickled); over the
    cap, LimitError names `label`. `max_bytes` None, or no fork: parsed here.
    """
    if not max_bytes or not supported():
        return parse(*args)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into the caller's code, whatever happens
        try:
            os.close(read_end)
            _child(write_end, max_bytes, parse, args)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
    except BaseException:  # interrupted (Ctrl-C, a stopped app session): no orphan parser
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    _, status = os.waitpid(pid, 0)
    try:
        kind, value = pickle.loads(payload)
    except Exception:  # nothing, or half a result: the child died (killed, or a crash in C)
        kind = "died"
        value = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                 else f"exit status {os.WEXITSTATUS(status)}")
    if kind == "ok":
        return value
    if kind == "raised":
        raise value
    if kind == "memory":
        mb = f"{max_bytes / 2**20:,.0f} MB"
        raise LimitError(label, f"読み込みに {mb} を超えるメモリが必要でした / reading it needed more "
                                f"than {mb} of memory (KB_MAX_PARSE_MB): its content swells far beyond "
                                "its size. Save it again from the program that made it, or split it")
    raise IngestError(label, f"could not be read: the reader stopped ({value}); the file may be "
                             "damaged: save it again from the program that made it")


def _child(write_end: int, max_bytes: int, parse: Callable[..., object], args: tuple[object, ...]) -> None:
    try:
        for number in (signal.SIGINT, signal.SIGTERM):  # not the parent's handlers (Streamlit's)
            signal.signal(number, signal.SIG_DFL)
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        limit = _data_size() + max_bytes
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
        try:
            outcome: tuple[str, object] = ("ok", parse(*args))
        except Exception as exc:  # the parser's own errors go back to the caller as they are
            outcome = ("memory", None) if _about_memory(exc) else ("raised", exc)
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:  # a result too big to pickle within the cap is over it too
        data = pickle.dumps(("memory", None))
    except Exception as exc:  # an exception that cannot be pickled: its text
        data = pickle.dumps(("died", f"{type(exc).__name__}: {exc}"))
    with os.fdopen(write_end, "wb") as pipe:
        pipe.write(data)


def _about_memory(exc: BaseException) -> bool:
    """Whether a failed allocation caused this error: a MemoryError that a parser wrapped in
    its own error (openpyxl's load_workbook in "not a readable workbook"), or a C parser's
    own report ("out of memory")."""
    seen: BaseException | None = exc
    for _ in range(8):  # a chain of causes, not a cycle
        if seen is None:
            return False
        if isinstance(seen, MemoryError) or any(w in str(seen).lower() for w in _MEMORY_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _data_size() -> int:
    """This process's data size in bytes (VmData): what a fork inherits before parsing."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0
