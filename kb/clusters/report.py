"""Similar-incident clusters for the monthly review: labelled groups, trends, escalation share,
and whether prevention measures (再発防止策) stopped recurrence.

`cluster_cases(kb, filters, params)` reads the selected cases (kb/clusters/data.py), clusters
them (kb/clusters/method.py) and describes each cluster (kb/clusters/describe.py). Results are
cached per knowledge-base state version, filters and parameters.

Prevention effectiveness is judged per *issue*, a sub-group of near-identical complaints
inside a cluster: a cluster such as "earphone defects" mixes problems, and a measure against
one of them (charging) must not be blamed for another (dropouts).

- An issue *continues after its measure* when `min_recurrences` or more of its cases came on
  a later day than its first recorded measure, at a rate (cases per month) of at least
  `recurrence_ratio` times its rate before; it *recurs* (not more often) when as many came
  at a lower rate; *stopped* when fewer did and the measure is at least STOPPED_AFTER_MONTHS old; *no
  measure* when none of its cases records one (kb/clusters/issues.py).
- A cluster is flagged `continues_after_measure` when one of its issues continues, and
  `growing_no_measure` when the cases of its measure-free issues grew (last `recent_months`
  against the months before), or when the whole cluster grew with no measure at all.
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ingest.cells import GuardedWriter
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
from kb.clusters.ids import carried_numbers, load_numbers, save_numbers, selection_key
from kb.clusters.issues import STATUSES, Issue, describe_issues, issue_names, token_counts
from kb.clusters.method import Partition, layout_2d, numeric_threads, partition, subgroups
from kb.storage.filters import Filters
from kb.storage.selection import CaseRow, Selection, load_selection, read_version

if TYPE_CHECKING:
    from kb.knowledge_base import KnowledgeBase

CONTINUES = "continues_after_measure"
GROWING_NO_MEASURE = "growing_no_measure"
FLAGS = (CONTINUES, GROWING_NO_MEASURE)
__all__ = ["CONTINUES", "FLAGS", "GROWING_NO_MEASURE", "STATUSES", "Cluster", "ClusterParams",
           "ClusterReport", "Issue", "cluster_cases"]
_CACHE_SIZE = 16  # 8 results, each under its version and its content
# What a computation reports as it goes (the page names them): read the cases, group them,
# describe the groups, lay out the map.
STAGES = ("cluster_read", "cluster_group", "cluster_describe", "cluster_map")
Progress = Callable[[int, int, str], None]  # as kb.reports.Progress (a layer this one can't import)


@dataclass(frozen=True)
class ClusterParams:
    """How to cluster; part of the cache key."""

    n_clusters: int | None = None  # None: as many as the data suggests (Louvain modularity)
    neighbours: int = 10
    text_weight: float = 0.5  # share of TF-IDF beside the embedding in the features
    max_clusters: int = 100
    recent_months: int = 6  # growth: the last N months of the period against the N before
    min_recurrences: int = 3  # later cases that make an issue "continue after its measure"
    # ... when they came at least this share of the rate before the measure (cases/month).
    recurrence_ratio: float = 1.5  # "clearly above what it was before" (issue 15)
    map_points: int = 3000
    seed: int = 0
    # 'YYYY-MM-DD' the trends count back from (today, or the end of the chosen period); None:
    # the newest case's date. Cases after it are left out of the months, not of the cluster.
    reference: str | None = None


_ROW_FIELDS = tuple(f.name for f in fields(CaseRow))


@dataclass(frozen=True, slots=True)
class CaseInfo(CaseRow):
    """One case as the cluster views show it: its fields, and where it fell."""

    cluster: int  # 1-based
    issue: str | None  # e.g. "3.2"; None when the case is in no issue of 3+ cases
    outlier: bool  # its own group was too small; it joined the nearest cluster
    x: float | None = None  # position on the 2-D map; None when not drawn
    y: float | None = None


@dataclass(frozen=True, slots=True)
class Cluster:
    """A labelled group of similar cases with its trend, escalation share and measures."""

    id: int  # largest first from 1, unless the group kept its number across writes (ids.py)
    label: str
    keywords: tuple[str, ...]
    case_ids: tuple[str, ...]  # oldest first
    representatives: tuple[str, ...]  # closest to the cluster's centre
    first_date: str | None
    last_date: str | None
    monthly: tuple[int, ...]  # cases per month, aligned with ClusterReport.months
    escalated_share: float | None  # None when no case records escalation either way
    top_products: tuple[tuple[str, int], ...]
    top_categories: tuple[tuple[str, int], ...]
    measures: tuple[Measure, ...]
    after_first_measure: tuple[str, ...]
    recent: int
    previous: int
    trend: str
    issues: tuple[Issue, ...]
    unaddressed: tuple[str, ...]  # cases of issues that no recorded measure addresses
    unaddressed_recent: int
    unaddressed_previous: int
    outliers: tuple[str, ...]
    flags: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.case_ids)


@dataclass(frozen=True)
class ClusterReport:
    """Everything the CLI and the Clusters page show, computed once per base version."""

    state_version: int
    filters: Filters
    params: ClusterParams
    months: tuple[str, ...]
    clusters: tuple[Cluster, ...]
    cases: dict[str, CaseInfo] = field(repr=False)
    k_found: int  # clusters the data suggested, before a cap or a user's choice
    algorithm: str
    unembedded: int
    took_ms: float

    @property
    def n_cases(self) -> int:
        return len(self.cases)

    @property
    def outliers(self) -> tuple[str, ...]:
        return tuple(i for c in self.clusters for i in c.outliers)

    def cluster_of(self, case_id: str) -> Cluster | None:
        info = self.cases.get(case_id)
        return next(c for c in self.clusters if c.id == info.cluster) if info else None

    def issue_of(self, case_id: str) -> Issue | None:
        info = self.cases.get(case_id)
        if info is None or info.issue is None:
            return None
        cluster = self.cluster_of(case_id)
        return next(i for i in cluster.issues if i.id == info.issue) if cluster else None

    def flagged(self, flag: str) -> tuple[Cluster, ...]:
        return tuple(c for c in self.clusters if flag in c.flags)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (the CLI's --json)."""
        return {
            "state_version": self.state_version, "filters": asdict(self.filters),
            "params": asdict(self.params), "cases": self.n_cases, "unembedded": self.unembedded,
            "k_found": self.k_found, "algorithm": self.algorithm, "months": list(self.months),
            "outliers": list(self.outliers),
            "clusters": [_cluster_dict(c, self.months) for c in self.clusters],
            "assignments": {i: c.cluster for i, c in self.cases.items()},
            "took_ms": round(self.took_ms, 1),
        }

    def cases_csv(self) -> str:
        """One row per case with its cluster, issue and the cluster's flags (for Excel)."""
        out = io.StringIO()
        writer = GuardedWriter(out)  # ledger text: never a live formula in Excel
        writer.writerow(["case_id", "date", "cluster", "cluster_label", "issue", "issue_status",
                         "outlier", "cluster_flags", "product", "category", "escalated", "title"])
        for cluster in self.clusters:
            for case_id in cluster.case_ids:
                case, issue = self.cases[case_id], self.issue_of(case_id)
                writer.writerow([case.id, case.date or "", cluster.id, cluster.label,
                                 case.issue or "", issue.status if issue else "",
                                 int(case.outlier), " ".join(cluster.flags), case.product,
                                 case.category, "" if case.escalated is None else int(case.escalated),
                                 case.title])
        return out.getvalue()

    def clusters_csv(self) -> str:
        """One row per cluster: the summary table of the monthly review."""
        out = io.StringIO()
        writer = GuardedWriter(out)  # ledger text: never a live formula in Excel
        writer.writerow(["cluster", "label", "size", "first_date", "last_date", "escalated_share",
                         "recent", "previous", "trend", "measures", "first_measure_date",
                         "cases_after_first_measure", "unaddressed_cases", "flags",
                         "top_products", "top_categories", "representatives"])
        for c in self.clusters:
            first = next((m.date for m in c.measures if m.date), None)
            writer.writerow([c.id, c.label, c.size, c.first_date or "", c.last_date or "",
                             "" if c.escalated_share is None else round(c.escalated_share, 3),
                             c.recent, c.previous, c.trend, len(c.measures), first or "",
                             len(c.after_first_measure), len(c.unaddressed), " ".join(c.flags),
                             "; ".join(f"{v} ({n})" for v, n in c.top_products),
                             "; ".join(f"{v} ({n})" for v, n in c.top_categories),
                             " ".join(c.representatives)])
        return out.getvalue()


def _cluster_dict(c: Cluster, months: Sequence[str]) -> dict[str, object]:
    data = asdict(c)
    data["size"] = c.size
    data["monthly"] = dict(zip(months, c.monthly, strict=True))
    data["top_products"] = [list(p) for p in c.top_products]
    data["top_categories"] = [list(p) for p in c.top_categories]
    for issue, raw in zip(c.issues, data["issues"], strict=True):
        raw["label"] = issue.label
    return data


# ---- the cache ----
_cache: OrderedDict[tuple[object, ...], ClusterReport] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def cluster_cases(kb: KnowledgeBase, filters: Filters | None = None,
                  params: ClusterParams | None = None,
                  progress: Progress | None = None) -> ClusterReport:
    """Cluster the cases `filters` select; cached per base version, filters and parameters.
    `progress(done, total, stage)` hears of each stage (STAGES) of a computation.

    A write that left the selected cases as they were (a manual, a response, a case outside
    the filters) reuses the result: it is cached by what it is computed from as well."""
    filters = filters or Filters()
    params = params or ClusterParams()
    # the SQLite file, or the PostgreSQL URL of a postgres+milvus base
    path = getattr(kb.store, "url", None) or Path(kb.layout.database).resolve()
    key = (str(path), read_version(path), filters, params)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    tell = progress or (lambda done, total, stage: None)
    tell(0, len(STAGES), STAGES[0])
    selection = load_selection(path, filters)
    content = (str(path), selection.digest(), filters, params)
    with _cache_lock:
        same = _cache.get(content)
    if same is not None:
        report = replace(same, state_version=selection.state_version)
    else:  # numbered as the last computation of these filters numbered its groups
        numbers, which = kb.layout.cluster_ids, selection_key(filters)
        report = build_report(selection, filters, params, tell, load_numbers(numbers, which))
        save_numbers(numbers, which, {i: c.cluster for i, c in report.cases.items()})
    with _cache_lock:
        _cache[(str(path), report.state_version, filters, params)] = report
        _cache[content] = report
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return report


# ---- building the report ----
@numeric_threads()  # one BLAS thread while the cores are busy (kb/clusters/method.py)
def build_report(selection: Selection, filters: Filters, params: ClusterParams,
                 progress: Progress | None = None,
                 previous: dict[str, int] | None = None) -> ClusterReport:
    """Cluster a loaded selection and describe each cluster; a group that is still mostly
    the same cases as one of `previous` ({case id: cluster number}) keeps its number."""
    started = time.perf_counter()
    tell = progress or (lambda done, total, stage: None)
    tell(1, len(STAGES), STAGES[1])
    rows, tokens = selection.rows, selection.tokens
    part = partition(selection.vectors, tokens, params.n_clusters, params.neighbours,
                     params.text_weight, params.max_clusters, params.seed)
    labels, numbers = carried_numbers(part.labels, [r.id for r in rows], previous or {})
    part = replace(part, labels=labels)  # 0..k-1 in the order of the numbers shown
    dates = [r.date for r in rows if r.date]
    # Trends count back from the reference date (stated on the page), else the newest case.
    end = params.reference or (max(dates) if dates else None)
    months = tuple(month_range(month_of(min(dates)), month_of(end))) if dates and end else ()
    k = int(part.labels.max()) + 1 if rows else 0
    tell(2, len(STAGES), STAGES[2])
    issue_of = subgroups(part.features, part.labels, seed=params.seed) if rows else part.labels
    names = issue_names(part.labels, issue_of, numbers)
    issues = describe_issues(rows, tokens, issue_of, names, months, end,
                             params.recent_months, params.min_recurrences, params.recurrence_ratio)
    members = [np.flatnonzero(part.labels == c) for c in range(k)]
    keywords = class_keywords([token_counts(tokens, m) for m in members])
    clusters = tuple(
        _describe_cluster(int(numbers[c]), members[c], rows, part, keywords[c], months, params,
                          tuple(i for i in issues if i.id.split(".")[0] == str(numbers[c])))
        for c in range(k))
    tell(3, len(STAGES), STAGES[3])
    drawn, coords = layout_2d(part.features, part.labels, params.map_points, params.seed)
    position = {int(i): (float(x), float(y)) for i, (x, y) in zip(drawn, coords, strict=True)}
    cases = {row.id: CaseInfo(*(getattr(row, f) for f in _ROW_FIELDS), int(numbers[part.labels[n]]),
                              names.get(int(issue_of[n])), bool(part.outliers[n]),
                              *position.get(n, (None, None)))
             for n, row in enumerate(rows)}
    tell(4, len(STAGES), STAGES[3])
    return ClusterReport(selection.state_version, filters, params, months, clusters, cases,
                         part.k_found, part.algorithm, selection.unembedded,
                         (time.perf_counter() - started) * 1000)


def _describe_cluster(number: int, members: np.ndarray, rows: list[CaseRow], part: Partition,
                      keywords: tuple[str, ...], months: tuple[str, ...], params: ClusterParams,
                      issues: tuple[Issue, ...]) -> Cluster:
    chosen = [rows[int(i)] for i in members]  # rows are sorted by date, so these are too
    centre = part.features[members].mean(axis=0)
    representatives = tuple(chosen[int(i)].id
                            for i in np.argsort(-(part.features[members] @ centre))[:3])
    dates = [r.date for r in chosen if r.date]
    known = [r.escalated for r in chosen if r.escalated is not None]
    measures = measures_of((r.id, r.date, r.prevention) for r in chosen)
    first = next((m.date for m in measures if m.date), None)
    monthly = monthly_counts((r.date for r in chosen), months)
    recent, previous = recent_and_previous(monthly, params.recent_months)
    trend = trend_of(recent, previous)
    by_id = {r.id: r for r in chosen}
    unaddressed = tuple(sorted((i for issue in issues if issue.status == "no_measure"
                                for i in issue.case_ids),
                               key=lambda i: (by_id[i].date or "", i)))
    loose_recent, loose_previous = recent_and_previous(
        monthly_counts((by_id[i].date for i in unaddressed), months), params.recent_months)
    flags = []
    if any(i.status == "continues" for i in issues):
        flags.append(CONTINUES)
    if trend_of(loose_recent, loose_previous) == "growing" or (trend == "growing" and not measures):
        flags.append(GROWING_NO_MEASURE)
    return Cluster(
        id=number, label=label_of(keywords), keywords=keywords,
        case_ids=tuple(r.id for r in chosen), representatives=representatives,
        first_date=min(dates) if dates else None, last_date=max(dates) if dates else None,
        monthly=monthly, escalated_share=sum(known) / len(known) if known else None,
        top_products=_top(r.product for r in chosen),
        top_categories=_top(r.category for r in chosen),
        measures=measures, after_first_measure=cases_after(first, ((r.id, r.date) for r in chosen)),
        recent=recent, previous=previous, trend=trend, issues=issues, unaddressed=unaddressed,
        unaddressed_recent=loose_recent, unaddressed_previous=loose_previous,
        outliers=tuple(rows[int(i)].id for i in members if part.outliers[int(i)]),
        flags=tuple(flags))


def _top(values: Iterable[str], n: int = 3) -> tuple[tuple[str, int], ...]:
    return tuple(Counter(v for v in values if v).most_common(n))
