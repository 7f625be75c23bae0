"""Typed search results: one entry per past case."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ingest.records import Case

MODES = ("hybrid", "dense", "lexical")


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

    def to_dict(self) -> dict[str, object]:
        data = asdict(self.case)
        return {"id": self.case.id, "score": round(self.score, 6),
                "dense_score": _round(self.dense_score), "lexical_score": _round(self.lexical_score),
                "matched_terms": self.matched_terms, "matched_fields": self.matched_fields,
                "case": data}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@dataclass
class SearchResult:
    query: str
    mode: str
    hits: list[CaseHit]
    took_ms: float
