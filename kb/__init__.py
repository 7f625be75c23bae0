"""Complaint knowledge base: store, index and search past cases (no UI code here)."""

from kb.filters import Filters
from kb.knowledge_base import (
    IngestReport,
    KnowledgeBase,
    KnowledgeBaseError,
    ModelMismatchError,
    Stats,
)
from kb.results import CaseHit, SearchResult

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
