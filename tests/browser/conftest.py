"""Real-browser fixtures: the app served by `streamlit run`, driven by Playwright + Chromium.

Chromium comes from Debian (`/usr/bin/chromium`; `.ci/run` installs it when missing);
Playwright never downloads a browser. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import copy_base, model_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("KB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"

BROWSER_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/browser `browser` (a conftest's pytestmark marks nothing)."""
    for item in items:
        if BROWSER_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's base: a copy of the session's sample base, built with the module's model
    (the fake, or USE where the module is marked real_model), so the app need not ingest."""
    template = request.getfixturevalue("sample_templates")(model_for(request.node))
    return copy_base(template, tmp_path_factory.mktemp("browser") / "kb")


@pytest.fixture(scope="module")
def app_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's app writes its console output (tests may read it)."""
    return tmp_path_factory.mktemp("log") / "streamlit.log"


@contextmanager
def serving_app(base: Path, model: str, log_path: Path, **env_extra: str) -> Iterator[str]:
    """The real app (`streamlit run app.py`) on `base` on a free 127.0.0.1 port, once it
    answers its health check; `env_extra` adds settings (KB_BACKEND=...). Stopped after."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian chromium (see .ci/run)")
    port = _free_port()
    env = {**os.environ, "KB_INDEX_DIR": str(base), "HF_HUB_OFFLINE": "1",
           "KB_EMBEDDING_MODEL": model, **env_extra}
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
         "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false"],  # the watcher: .streamlit/config.toml
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, f"streamlit exited; log: {log.name}"
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_until(healthy, timeout=120, what=f"streamlit to start (log: {log.name})")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def app_url(request: pytest.FixtureRequest, app_base: Path, app_log: Path) -> Iterator[str]:
    """Start the real app on the module's base and wait until it answers."""
    with serving_app(app_base, model_for(request.node), app_log) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url: str, tmp_path: Path):
    """A fresh browser page on the app, with downloads allowed."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000},
                                  locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (kept by CI for a look)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def docs_screenshot(page, name: str) -> Path:
    """A screenshot for test-artifacts/; with KB_UPDATE_DOCS=1 also the README's docs/NAME.png."""
    shot = screenshot(page, name)
    if os.environ.get("KB_UPDATE_DOCS") == "1":
        shutil.copy(shot, ROOT / "docs" / f"{name}.png")
    return shot


def search_for(page, text: str, empty: str = "上の欄にクレームの内容を入力してください。",
               card_heading: str = "クレーム内容") -> None:
    """Type a complaint once the page is idle, and wait until result cards replaced the hint."""
    page.get_by_text(empty).wait_for()  # the first run has finished: typing now sticks
    box = page.get_by_role("textbox").first
    box.fill(text)
    box.press("Control+Enter")
    page.get_by_text(empty).wait_for(state="detached")
    page.get_by_text(card_heading, exact=True).first.wait_for()


def wait_until(condition: Callable[[], object], timeout: float = 60, what: str = "a condition",
               poll: float = 0.1) -> object:
    """Poll `condition` until it returns something truthy (a wait on state, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)
    return value


def wait_idle(page) -> None:
    """Wait until the app's script is not running (Streamlit marks it on the stApp element)."""
    page.wait_for_function(
        "() => document.querySelector(\"[data-testid='stApp']\")"
        "?.getAttribute('data-test-script-state') === 'notRunning'")


def have_chromium() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None
