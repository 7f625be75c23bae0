"""Complaint knowledge base: store, index and search past cases (no UI code here)."""

from kb.knowledge_base import (
    IngestReport,
    KnowledgeBase,
    KnowledgeBaseError,
    ModelMismatchError,
    Stats,
)
from kb.search.filters import Filters
from kb.search.results import CaseHit, SearchResult

__all__ = [
    "CaseHit",
    "Filters",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "ModelMismatchError",
    "SearchResult",
    "Stats",
]
