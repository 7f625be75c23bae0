"""Streamlit entry point: `streamlit run app.py`.

Opens the knowledge base (indexes/default, or KB_INDEX_DIR) once per process;
an empty base is filled from the bundled sample ledger on first start.
"""

from __future__ import annotations

import streamlit as st

from kb.sample import ensure_sample
from ui import search
from ui.state import knowledge_base

st.set_page_config(page_title="クレーム事例ナレッジベース", page_icon="📒", layout="wide")

kb = knowledge_base()
if kb.stats().cases == 0:
    bar = st.progress(0.0, text="サンプル台帳を取り込み中… Building the sample knowledge base…")

    def _progress(done: int, total: int, stage: str) -> None:
        bar.progress(done / max(total, 1),
                     text=f"サンプル台帳を取り込み中 Building sample base: {stage} {done}/{total}")

    ensure_sample(kb, progress=_progress)
    bar.empty()

search.render(kb)
