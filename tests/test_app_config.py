"""The app's Streamlit settings as Streamlit itself reads them from .streamlit/config.toml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ROOT


@pytest.fixture
def config_from_repo(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Streamlit's config as `streamlit run app.py` from the repository root resolves it."""
    from streamlit import config

    monkeypatch.chdir(ROOT)
    config.get_config_options(force_reparse=True)
    yield config
    config.get_config_options(force_reparse=True)


def test_no_file_watcher_floods_the_log(config_from_repo) -> None:
    """Issue 15, item 8: watching the repository (.venv/, indexes/) overflowed inotify and
    filled the log with 3,061 "Inotify queue overflowed" lines."""
    assert config_from_repo.get_option("server.fileWatcherType") == "none"
    assert config_from_repo.get_option("server.maxUploadSize") == 50
