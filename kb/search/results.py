"""Typed search results: one entry per past case."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from ingest.records import Case
from kb.storage.documents import Passage


class SearchMode(StrEnum):
    """Which rankers a search uses."""

    HYBRID = "hybrid"
    DENSE = "dense"
    LEXICAL = "lexical"


MODES = tuple(m.value for m in SearchMode)


@dataclass
class CaseHit:
    """A past case that matches the query, with why it matched."""

    case: Case
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    best_chunks: list[str] = field(default_factory=list)
    matched_terms: list[str] = field(default_factory=list)
    matched_fields: list[str] = field(default_factory=list)
    coverage: float | None = None  # share of the query's telling words found in the case
    confidence: float | None = None  # 0..1, calibrated per model (kb/search/confidence.py)
    level: str | None = None  # 類似度: "high", "medium", "low"; None when the model is unknown

    def to_dict(self) -> dict[str, object]:
        data = asdict(self.case)
        return {"id": self.case.id, "score": round(self.score, 6),
                "dense_score": _round(self.dense_score), "lexical_score": _round(self.lexical_score),
                "coverage": _round(self.coverage), "confidence": _round(self.confidence),
                "level": self.level,
                "matched_terms": self.matched_terms, "matched_fields": self.matched_fields,
                "case": data}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@dataclass
class PassageHit(Passage):
    """A manual passage that applies: where to find it (document, page, headings) and why."""

    score: float = 0.0
    matched_terms: list[str] = field(default_factory=list)

    @property
    def pages(self) -> str:
        """'p. 12' or 'p. 12-13' ('' for documents without pages)."""
        if self.page_start is None:
            return ""
        if self.page_end and self.page_end != self.page_start:
            return f"p. {self.page_start}-{self.page_end}"
        return f"p. {self.page_start}"

    def to_dict(self) -> dict[str, object]:
        return {"document": self.document_id, "title": self.title, "page_start": self.page_start,
                "page_end": self.page_end, "heading_path": list(self.heading_path),
                "score": round(self.score, 6), "text": self.text,
                "matched_terms": self.matched_terms}


@dataclass
class SearchResult:
    query: str
    mode: str
    hits: list[CaseHit]
    took_ms: float
    passages: list[PassageHit] = field(default_factory=list)
    state_version: int = 0  # the committed state it saw (kb/storage/database.py)

    @property
    def no_close_case(self) -> bool:
        """Hits came back, but none is closer than what a base without such a case returns:
        staff are told so instead of being shown look-alikes as answers."""
        return bool(self.hits) and all(h.level == "low" for h in self.hits)
