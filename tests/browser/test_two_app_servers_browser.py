"""Two app servers on one postgres+milvus base: a case recorded through one is the first hit
of a paraphrase search through the other (issue 14), in Chromium.

The sample base (built once per session with the real model) is copied onto a fresh
PostgreSQL database and the session's Milvus server by `kb migrate`, then two `streamlit run`
processes serve it on two ports, each with a base directory of its own: what one writes,
the other can only have read from the servers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.browser.conftest import screenshot, search_for, serving_app, wait_idle
from tests.browser.test_record_browser import COMPLAINT, PARAPHRASE
from tests.conftest import ROOT, copy_base, model_for
from tests.servers import drop_database, new_database

# the paraphrase shares almost no word with the case: the real model; servers: slow
pytestmark = [pytest.mark.real_model, pytest.mark.slow]


@pytest.fixture(scope="module")
def server_env(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """KB_BACKEND=postgres+milvus on a fresh database holding the sample base, migrated."""
    admin, uri = request.getfixturevalue("postgres_server"), request.getfixturevalue("milvus_server")
    template = request.getfixturevalue("sample_templates")(model_for(request.node))
    embedded = copy_base(template, tmp_path_factory.mktemp("embedded") / "kb")
    url = new_database(admin)
    env = {"KB_BACKEND": "postgres+milvus", "KB_POSTGRES_URL": url, "KB_MILVUS_URI": uri}
    moved = subprocess.run([sys.executable, "-m", "kb", "--index", str(embedded), "migrate",
                            "--to", "postgres+milvus"], cwd=ROOT, capture_output=True,
                           text=True, timeout=600, env={**os.environ, **env, "KB_BACKEND": "sqlite"})
    assert moved.returncode == 0, moved.stderr[-2000:]
    yield env
    drop_database(url)


@pytest.fixture(scope="module")
def two_apps(request: pytest.FixtureRequest, server_env: dict[str, str],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    model, logs = model_for(request.node), tmp_path_factory.mktemp("logs")
    with serving_app(tmp_path_factory.mktemp("one") / "kb", model, logs / "one.log",
                     **server_env) as one, \
            serving_app(tmp_path_factory.mktemp("two") / "kb", model, logs / "two.log",
                        **server_env) as two:
        yield one, two


def test_a_case_recorded_on_one_app_server_is_found_first_on_the_other(
        browser, two_apps: tuple[str, str]) -> None:
    one, two = two_apps
    writer = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ja-JP")
    reader = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ja-JP")
    try:
        page = writer.new_page()
        page.set_default_timeout(90_000)
        page.goto(f"{one}/record")
        page.get_by_text("対応した事例を記録する").first.wait_for()
        main = page.locator("[data-testid='stMain']").first
        for label, text in {"クレーム内容 *": COMPLAINT,
                            "対応": "係員が手動で精算し、駐車料金を無料にしてお詫びした"}.items():
            box = main.get_by_label(label, exact=True)
            box.fill(text)
            box.press("Tab")
        wait_idle(page)
        page.get_by_role("button", name="保存して検索できるようにする").click()
        saved = page.get_by_text(re.compile("を保存しました")).first
        saved.wait_for()
        case_id = re.search(r"事例 (\S+) を保存しました", saved.inner_text()).group(1)

        other = reader.new_page()
        other.set_default_timeout(90_000)
        other.goto(two)
        search_for(other, PARAPHRASE)
        found = other.locator("[data-testid='stMain']").first
        found.get_by_text(f"1. {case_id}", exact=True).wait_for()  # the first card
        assert "手動で精算" in found.inner_text()
        screenshot(other, "two-app-servers-found-ja")
    finally:
        writer.close()
        reader.close()
