"""A progress bar that says how long is left (「残り約 1分20秒」), for the pages that ingest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from kb import Progress, Remaining, remaining_text
from ui.i18n import lang


def progress_bar(describe: Callable[[str, int, int], str]) -> tuple[Progress, Any]:
    """A st.progress and its callback; `describe(stage, done, total)` is the bar's text, to
    which the time left is added once the pace is known."""
    bar = st.progress(0.0, text=describe("", 0, 0))
    remaining = Remaining()

    def update(done: int, total: int, stage: str) -> None:
        text = describe(stage, done, total)
        left = remaining.update(done, total)
        if left:
            text = f"{text} · {remaining_text(left, lang())}"
        bar.progress(min(done / max(total, 1), 1.0), text=text)

    return update, bar
