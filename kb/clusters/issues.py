"""Issues inside a cluster and whether their prevention measures (再発防止策) worked.

An issue groups near-identical complaints; its first recorded measure splits its cases into
before and after. What the monthly review needs to know is whether complaints came *less
often* after the measure, so the judgement compares rates (cases per month), not the bare
count after it: on a steady ledger almost every issue has a few cases after some measure,
and a count alone flagged all 11 sample clusters.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kb.clusters.describe import (
    Measure,
    cases_after,
    class_keywords,
    label_of,
    measures_of,
    month_of,
    month_range,
    monthly_counts,
    recent_and_previous,
    trend_of,
)
from kb.storage.selection import CaseRow

# Issue statuses: what the measures achieved.
STATUSES = ("continues", "recurs", "stopped", "too_early", "no_measure")
STOPPED_AFTER_MONTHS = 3  # a measure younger than this cannot show it worked yet
STRAY_AFTER = 1  # one case after a measure can be a stray; two or more: it recurs
_DAYS_PER_MONTH = 30.44


@dataclass(frozen=True, slots=True)
class Recurrence:
    """Cases of an issue up to its first measure (that day included) and after it, and the
    months each span covers (at least one, so a single case is not a huge rate)."""

    before: int
    after: int
    before_months: float
    after_months: float

    @property
    def before_rate(self) -> float:
        return self.before / self.before_months

    @property
    def after_rate(self) -> float:
        return self.after / self.after_months


@dataclass(frozen=True, slots=True)
class Issue:
    """Near-identical complaints inside a cluster, and what their measures achieved."""

    id: str  # "cluster.rank", e.g. "3.2"
    keywords: tuple[str, ...]
    case_ids: tuple[str, ...]  # oldest first
    measures: tuple[Measure, ...]  # distinct texts, oldest first
    after_first_measure: tuple[str, ...]
    recent: int
    previous: int
    trend: str
    status: str  # one of STATUSES
    recurrence: Recurrence | None = None  # None without a dated measure

    @property
    def label(self) -> str:
        return label_of(self.keywords)

    @property
    def first_measure(self) -> Measure | None:
        return next((m for m in self.measures if m.date), None)


def _months(start: str, end: str) -> float:
    days = (dt.date.fromisoformat(end[:10]) - dt.date.fromisoformat(start[:10])).days
    return max(days / _DAYS_PER_MONTH, 1.0)


def recurrence(first_measure: str, dates: Sequence[str | None], end: str) -> Recurrence:
    """Rates before and after `first_measure`, the period ending on `end` (an ISO date)."""
    day, end = first_measure[:10], end[:10]
    known = sorted(d[:10] for d in dates if d and d[:10] <= end)  # none after the reference
    before = sum(d <= day for d in known)
    start = known[0] if known else day
    return Recurrence(before, len(known) - before, _months(start, day), _months(day, max(day, end)))


def issue_status(measures: Sequence[Measure], rec: Recurrence | None, end: str | None,
                 min_recurrences: int, ratio: float) -> str:
    """continues: `min_recurrences` or more cases after the measure, at a rate of at least
    `ratio` times the rate before it; recurs: more than a stray case after it, but not
    clearly more often; stopped: at most a stray one, and the measure old enough to tell;
    too_early; no_measure."""
    if not measures:
        return "no_measure"
    after = rec.after if rec is not None else 0
    if rec is not None and after >= min_recurrences and rec.after_rate >= ratio * rec.before_rate:
        return "continues"
    if after > STRAY_AFTER:
        return "recurs"
    first = next((m.date for m in measures if m.date), None)
    if first and end and len(month_range(month_of(first), month_of(end))) > STOPPED_AFTER_MONTHS:
        return "stopped"
    return "too_early"


def issue_names(labels: np.ndarray, issue_of: np.ndarray,
                numbers: Sequence[int] | None = None) -> dict[int, str]:
    """Issue number -> '3.2' (cluster 3, its second-largest issue); `numbers[label]` is the
    cluster's number (default label + 1)."""
    names: dict[int, str] = {}
    for cluster in range(int(labels.max()) + 1 if len(labels) else 0):
        found = Counter(int(i) for i in issue_of[labels == cluster] if i >= 0)
        number = numbers[cluster] if numbers is not None else cluster + 1
        for rank, (issue, _) in enumerate(found.most_common(), start=1):
            names[issue] = f"{number}.{rank}"
    return names


def token_counts(tokens: Sequence[Sequence[str]], indices: np.ndarray) -> Counter[str]:
    counts: Counter[str] = Counter()
    for i in indices:
        counts.update(tokens[int(i)])
    return counts


def describe_issues(rows: list[CaseRow], tokens: list[list[str]], issue_of: np.ndarray,
                    names: dict[int, str], months: tuple[str, ...], end: str | None,
                    recent_months: int, min_recurrences: int, ratio: float) -> list[Issue]:
    """Every issue with its measures, trend and status; `end` closes the period."""
    numbers = sorted(names, key=lambda i: tuple(int(p) for p in names[i].split(".")))
    groups = [np.flatnonzero(issue_of == i) for i in numbers]
    keywords = class_keywords([token_counts(tokens, g) for g in groups])
    out: list[Issue] = []
    for number, group, words in zip(numbers, groups, keywords, strict=True):
        chosen = [rows[int(i)] for i in group]
        measures = measures_of((r.id, r.date, r.prevention) for r in chosen)
        first = next((m.date for m in measures if m.date), None)
        after = cases_after(first, ((r.id, r.date) for r in chosen))
        rec = recurrence(first, [r.date for r in chosen], end) if first and end else None
        recent, previous = recent_and_previous(monthly_counts((r.date for r in chosen), months),
                                               recent_months)
        out.append(Issue(names[number], words, tuple(r.id for r in chosen), measures, after,
                         recent, previous, trend_of(recent, previous),
                         issue_status(measures, rec, end, min_recurrences, ratio), rec))
    return out
