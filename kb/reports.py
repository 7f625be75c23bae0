"""What writes and reads report back to the CLI and the app: plain data, and the time-left
estimate both progress bars show."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ingest.ledger import LedgerRead

# progress(done, total, stage) -- the CLI draws a bar, the app a st.progress. A case ingest
# reports its stages ("embed", "store") in cases out of one total, so one estimate spans them.
Progress = Callable[[int, int, str], None]


class Remaining:
    """Seconds left, from the pace so far; starts again when the total changes (a new stage
    with its own count, e.g. calibration after an ingest) or the count goes back."""

    MIN_SECONDS = 1.0  # no estimate from the first second's pace

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.total, self.start_done, self.last = -1, 0, 0
        self.started = clock()

    def update(self, done: int, total: int) -> float | None:
        now = self.clock()
        if total != self.total or done < self.last:
            self.total, self.start_done, self.started = total, done, now
        self.last = done
        moved, elapsed = done - self.start_done, now - self.started
        if done >= total:
            return 0.0
        if moved <= 0 or elapsed < self.MIN_SECONDS:
            return None
        return elapsed / moved * (total - done)


def remaining_text(seconds: float, lang: str = "ja") -> str:
    """「残り約 1分20秒」 / "about 1 min 20 s left" (rounded: 5 s under 1 min, 10 s under 10 min)."""
    step = 5 if seconds < 60 else 10 if seconds < 600 else 60
    total = max(step, int(round(seconds / step)) * step)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if lang == "en":
        parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
                 f"{secs} s" if secs else ""]
        return f"about {' '.join(p for p in parts if p)} left"
    parts = [f"{hours}時間" if hours else "", f"{minutes}分" if minutes else "",
             f"{secs}秒" if secs else ""]
    return f"残り約 {''.join(parts)}"


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
