"""The bundled demo ledger, so a fresh checkout has something to search."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kb.reports import IngestReport, Progress

if TYPE_CHECKING:
    from kb.knowledge_base import KnowledgeBase

SAMPLE_LEDGER = Path(__file__).resolve().parents[2] / "data" / "sample_complaints.csv"


def ensure_sample(kb: KnowledgeBase, progress: Progress | None = None) -> IngestReport | None:
    """Ingest the sample ledger into an empty base; None when the base already has cases."""
    if kb.stats().cases or not SAMPLE_LEDGER.exists():
        return None
    return kb.ingest_ledger(SAMPLE_LEDGER, progress=progress)
