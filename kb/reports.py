"""What writes and reads report back to the CLI and the app (plain data, no behaviour)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ingest.ledger import LedgerRead

# progress(done, total, stage) -- the CLI draws a bar, the app a st.progress.
Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    """What an ingest did, for the CLI and the app to show."""

    source: str = ""
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    embedded: int = 0  # chunk texts that had to be embedded (others reused stored vectors)
    resumed: int = 0  # vectors reused from the embedding cache of an interrupted ingest
    rejects_file: str | None = None
    masked: dict[str, int] = field(default_factory=dict)  # kind -> count (ingest/masking.py)
    ledger: LedgerRead | None = field(default=None, repr=False)


@dataclass
class DocumentReport:
    """What one manual upload did: new, replaced, or unchanged (identical file skipped)."""

    name: str
    status: Literal["new", "replaced", "unchanged"]
    title: str
    pages: int | None
    passages: int
    warnings: list[str]


@dataclass(frozen=True)
class Stats:
    cases: int  # active cases (retired ones are kept but not searched)
    retired: int
    chunks: int
    vectors: int
    escalated: int
    documents: int
    model: str
    dim: int
    analyser: str
    schema_version: int
    state_version: int
    directory: str
    fusion_dense_prior: float
    fusion_calibration: str  # how the prior was chosen (JSON), '' if never calibrated
