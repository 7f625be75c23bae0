"""Real servers for the scale-out tests, started on 127.0.0.1 in temp dirs, once per session.

PostgreSQL: Debian's `postgresql` package (initdb, then `postgres` itself, as the `postgres`
user when the tests run as root, since PostgreSQL refuses to run as root). Milvus: the
server binary that the `milvus-lite==2.5.1` wheel ships, listening on a TCP port. Both run
as children that die with the test process, even one killed before its teardown. Each
fixture skips, with the reason, only when its package or binary is really missing; a
server that is installed but fails to start is an error, not a skip. The bench scripts
(bench/backends.py) start theirs with the same `running_postgres` / `running_milvus`.
"""

from __future__ import annotations

import glob
import importlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_TIMEOUT = 60.0  # seconds a server may take to accept connections on a loaded machine


def free_port() -> int:
    """A TCP port nobody listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, else Debian's versioned directory (newest)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return candidates[-1] if candidates else None


class Unavailable(Exception):
    """A server's package or program is not installed here: the fixture skips with this reason."""


def _as_server_user(args: list[str]) -> list[str]:
    """PostgreSQL will not run as root: run it as `postgres` then (Debian creates that user)."""
    if os.geteuid() != 0:
        return args
    runuser = shutil.which("runuser")
    if runuser is None:
        raise Unavailable("running as root without `runuser`: cannot start PostgreSQL as postgres")
    return [runuser, "-u", "postgres", "--", *args]


def _chown_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no `postgres` user "
                              "(apt-get install postgresql)") from None
        os.chown(path, user.pw_uid, user.pw_gid)


def _wait_for_postgres(url: str, server: subprocess.Popen) -> None:
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _watched(args: list[str], death_signal: str, server_user: bool = False) -> list[str]:
    """The server as this process's child that gets `death_signal` when the test process
    dies, even by SIGKILL with no teardown run (util-linux setpriv's parent-death signal);
    as the postgres user when `server_user` and running as root."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return _as_server_user(args) if server_user else args
    prefix = [setpriv, f"--pdeathsig={death_signal}"]
    if server_user and os.geteuid() == 0:
        prefix += ["--reuid=postgres", "--regid=postgres", "--init-groups"]
    return [*prefix, "--", *args]


def _stop(server: subprocess.Popen, sig: int) -> None:
    server.send_signal(sig)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=30)


def _require(module: str, why: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError:
        raise Unavailable(f"{why} is not installed (pip install -r requirements-dev.txt)") from None


@contextmanager
def running_postgres() -> Iterator[str]:
    """A PostgreSQL server of its own on 127.0.0.1 (trust auth, no fsync: test and bench
    data only) in a temp dir; yields the admin URL, and stops and removes it after."""
    _require("psycopg", "psycopg")
    initdb = _pg_bin("initdb")
    if initdb is None or not Path(initdb).with_name("postgres").exists():
        raise Unavailable("PostgreSQL server programs (initdb, postgres) are not installed: "
                          "apt-get install postgresql")
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="kb-pg-"))
    try:
        _chown_to_server_user(root)
        data, port = root / "data", free_port()
        subprocess.run(_as_server_user([initdb, "-D", str(data), "-U", "postgres",
                                        "--auth=trust", "-E", "UTF8", "--locale=C",
                                        "--no-sync"]),
                       check=True, capture_output=True, timeout=120)
        postgres = str(Path(initdb).with_name("postgres"))
        args = [postgres, "-D", str(data), "-p", str(port), "-k", str(root), "-c",
                "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=200"]
        with (root / "server.log").open("w") as log:  # a file, not a pipe nobody reads
            server = subprocess.Popen(_watched(args, "QUIT", server_user=True), stdout=log,
                                      stderr=subprocess.STDOUT)
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        try:
            _wait_for_postgres(url, server)
            yield url
        finally:
            _stop(server, signal.SIGINT)  # PostgreSQL's fast shutdown
    finally:
        shutil.rmtree(root, ignore_errors=True)


def new_database(admin_url: str) -> str:
    """A fresh, empty database on the server (one knowledge base per database); its URL."""
    import psycopg

    name = f"kb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    import psycopg

    admin_url, name = url.rsplit("/", 1)[0] + "/postgres", url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def running_milvus() -> Iterator[str]:
    """The Milvus Lite 2.5 server binary on 127.0.0.1 with its data in a temp dir; its URI."""
    _require("pymilvus", "pymilvus")
    _require("milvus_lite.server", "milvus-lite")
    from milvus_lite import server as lite
    from pymilvus import MilvusClient

    binary = Path(lite.BIN_PATH) / "milvus"
    if not binary.exists():
        raise Unavailable(f"the milvus-lite wheel has no server binary at {binary}")
    root, port = Path(tempfile.mkdtemp(prefix="kb-milvus-")), free_port()
    env = {**os.environ, "LD_LIBRARY_PATH": f"{lite.BIN_PATH}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
    with (root / "server.log").open("w") as log:
        server = subprocess.Popen(_watched([str(binary), str(root / "milvus.db"),
                                            f"127.0.0.1:{port}", "ERROR"], "KILL"),
                                  cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client = MilvusClient(uri=uri, timeout=5)
                client.list_collections()
                client.close()
                break
            except Exception:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield uri
    finally:
        _stop(server, signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _skipped_if_unavailable() -> Iterator[None]:
    try:
        yield
    except Unavailable as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The session's PostgreSQL server on 127.0.0.1; yields the admin URL."""
    with _skipped_if_unavailable(), running_postgres() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server (one knowledge base per database)."""
    url = new_database(postgres_server)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def milvus_server() -> Iterator[str]:
    """The session's Milvus Lite server on 127.0.0.1; yields its URI."""
    with _skipped_if_unavailable(), running_milvus() as uri:
        yield uri


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """A Dask LocalCluster (two single-threaded worker processes) on 127.0.0.1; its address."""
    distributed = pytest.importorskip(
        "distributed", reason="dask[distributed] is not installed (pip install -r requirements.txt)")
    from kb.write.encoding import _main_out_of_sight

    # Spawned workers import the parent's __main__ first: after an AppTest that is a temp
    # script that cannot run alone ("Nanny failed to start worker process"), as under Streamlit.
    with _main_out_of_sight():
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
