"""The app never phones out (issue 16, item 7): a headless `streamlit run app.py` with the
project's .streamlit/config.toml resolves and connects to nothing beyond this machine.

Every socket connect and name lookup in the server process is logged by a small module
loaded before Streamlit (the test process itself is not watched)."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.browser.conftest import _free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]

NET_LOG = '''
import json, os, socket
_log = os.environ["NET_LOG"]
def _note(kind, target):
    host = target[0] if isinstance(target, tuple) else target
    host = host.decode() if isinstance(host, bytes) else host
    with open(_log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps([kind, None if host is None else str(host)]) + "\\n")
_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
def connect(self, address):
    _note("connect", address)
    return _connect(self, address)
def connect_ex(self, address):
    _note("connect", address)
    return _connect_ex(self, address)
def getaddrinfo(host, *args, **kwargs):
    _note("resolve", host)
    return _getaddrinfo(host, *args, **kwargs)
socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
'''


def _is_local(host: str | None) -> bool:
    """This machine: no host, localhost, a wildcard or loopback address, or a Unix socket path."""
    if not host or host in ("localhost", "0.0.0.0", "::") or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def test_a_headless_start_looks_up_and_connects_to_nothing_outside(tmp_path: Path) -> None:
    (tmp_path / "netlog.py").write_text(NET_LOG, encoding="utf-8")
    log, banner = tmp_path / "net.jsonl", tmp_path / "streamlit.log"
    port = _free_port()
    code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import netlog; "
            "from streamlit.web.cli import main; sys.argv[0] = 'streamlit'; main()")
    env = {**os.environ, "NET_LOG": str(log), "KB_INDEX_DIR": str(tmp_path / "kb")}
    with banner.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path), "run", str(ROOT / "app.py"),
             "--server.port", str(port), "--server.headless", "true",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def page_served() -> bool:
        assert proc.poll() is None, banner.read_text()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_until(page_served, timeout=120, what="streamlit to serve the page")
        wait_until(lambda: "URL:" in banner.read_text(), timeout=30, what="the start banner")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    printed = banner.read_text()
    assert "External URL" not in printed and "localhost" in printed, printed
    seen = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    outside = [entry for entry in seen if not _is_local(entry[1])]
    assert not outside, outside
