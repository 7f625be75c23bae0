"""Process-wide resources for the app: the knowledge base opens once per process."""

from __future__ import annotations

import streamlit as st

from kb import KnowledgeBase, resolve_index_dir


@st.cache_resource(show_spinner="ナレッジベースを読み込み中… Loading the knowledge base…")
def open_knowledge_base(index_dir: str) -> KnowledgeBase:
    """Model and indexes load once; `KnowledgeBase.search` picks up new data on disk itself."""
    return KnowledgeBase.open(index_dir)


def knowledge_base() -> KnowledgeBase:
    """The shared base; reopened when another process re-embedded it with another model."""
    index_dir = str(resolve_index_dir())
    kb = open_knowledge_base(index_dir)
    if kb.stored_model() != kb.embedder.name:
        open_knowledge_base.clear()
        kb = open_knowledge_base(index_dir)
    return kb
