"""Process-wide resources for the app: the knowledge base opens once per process."""

from __future__ import annotations

import streamlit as st

from kb import KnowledgeBase
from kb.knowledge_base import resolve_index_dir


@st.cache_resource(show_spinner="ナレッジベースを読み込み中… Loading the knowledge base…")
def open_knowledge_base(index_dir: str) -> KnowledgeBase:
    """Model and indexes load once; `KnowledgeBase.search` picks up changes on disk itself."""
    return KnowledgeBase.open(index_dir)


def knowledge_base() -> KnowledgeBase:
    return open_knowledge_base(str(resolve_index_dir()))
