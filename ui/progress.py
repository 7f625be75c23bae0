"""A progress bar that says how long is left (「残り約 1分20秒」), for the pages that ingest.

The knowledge base names its stages in English identifiers ("embed", "store",
"calibrate"); staff read them here in their language, never the identifiers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from kb import Progress, Remaining, remaining_text
from ui.i18n import lang, tr

STAGES: dict[str, tuple[str, str]] = {
    "embed": ("埋め込み計算", "embedding"),
    "store": ("保存", "saving"),
    "calibrate": ("検索の調整", "tuning search"),
    "pages": ("ページの読み取り", "reading pages"),
    "cluster_read": ("事例の読み込み", "reading the cases"),
    "cluster_group": ("グループ分け", "grouping"),
    "cluster_describe": ("傾向と再発防止策の集計", "trends and measures"),
    "cluster_map": ("事例マップの配置", "laying out the map"),
}


def stage_label(stage: str) -> str:
    """The stage's name in the session's language; an unknown stage reads as 処理中."""
    if not stage:
        return ""
    return tr(STAGES, stage) if stage in STAGES else ("処理中" if lang() != "en" else "working")


def progress_bar(describe: Callable[[str, int, int], str]) -> tuple[Progress, Any]:
    """A st.progress and its callback; `describe(stage, done, total)` is the bar's text, to
    which the time left is added once the pace is known. `describe` gets the stage's name
    already translated (stage_label)."""
    bar = st.progress(0.0, text=describe("", 0, 0))
    remaining = Remaining()

    def update(done: int, total: int, stage: str) -> None:
        text = describe(stage_label(stage), done, total)
        left = remaining.update(done, total)
        if left:
            text = f"{text} · {remaining_text(left, lang())}"
        bar.progress(min(done / max(total, 1), 1.0), text=text)

    return update, bar
