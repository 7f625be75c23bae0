"""Process-wide resources for the app: the knowledge base opens once per process, and the
clusters page's default result is computed in the background after each write."""

from __future__ import annotations

import logging
import threading

import streamlit as st

from kb import ClusterParams, KnowledgeBase, cluster_cases, resolve_index_dir

log = logging.getLogger(__name__)


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


def default_cluster_params(kb: KnowledgeBase) -> ClusterParams:
    """What the clusters page asks for before anyone touches its filters."""
    _, last = kb.date_range()
    return ClusterParams(reference=last[:10] if last else None)


def warm_clusters(kb: KnowledgeBase) -> threading.Thread:
    """After a write: compute the default clusters in a background thread, so the clusters
    page opens on a ready result (kb.clusters keeps it per base version). Never raises."""
    params = default_cluster_params(kb)

    def work() -> None:
        try:
            cluster_cases(kb, params=params)
        except Exception:  # a background nicety: the page computes it itself if this fails
            log.exception("background clustering failed")

    thread = threading.Thread(target=work, name="kb-clusters-warm", daemon=True)
    thread.start()
    return thread
