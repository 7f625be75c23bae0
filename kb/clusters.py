"""Similar-incident clusters for the monthly review: labelled groups, trends, escalation share,
and whether prevention measures (再発防止策) stopped recurrence.

`cluster_cases(kb, filters, params)` reads the selected cases from the knowledge base, clusters
them (kb/clusters_method.py), and describes every cluster (kb/clusters_describe.py). Results are
cached per knowledge-base state version, filters and parameters, so the app and repeated CLI
calls in one process do not recompute an unchanged base.

Prevention effectiveness is judged per *issue*: a sub-group of a cluster's cases (Louvain on
the cluster's own neighbour graph). A cluster such as "earphone defects" mixes problems; a
measure against one of them (charging) should not be blamed for another (dropouts).
"""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.clusters_describe import (
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
from kb.clusters_method import Partition, layout_2d, min_cluster_size, partition, subgroups
from kb.filters import Filters

if TYPE_CHECKING:
    from kb.knowledge_base import KnowledgeBase

CONTINUES = "continues_after_measure"
GROWING_NO_MEASURE = "growing_no_measure"
FLAGS = (CONTINUES, GROWING_NO_MEASURE)
_CACHE_SIZE = 8


@dataclass(frozen=True)
class ClusterParams:
    """How to cluster; part of the cache key."""

    n_clusters: int | None = None  # None: as many as the data suggests (Louvain modularity)
    neighbours: int = 10
    text_weight: float = 0.5  # share of TF-IDF beside the embedding in the features
    max_clusters: int = 100
    recent_months: int = 6  # growth compares the last N months of the period with the N before
    min_recurrences: int = 2  # cases after the first measure that make an issue "continuing"
    map_points: int = 3000
    seed: int = 0


@dataclass(frozen=True, slots=True)
class CaseInfo:
    """One case as the cluster views show it."""

    id: str
    date: str | None
    title: str
    content: str
    product: str
    category: str
    escalated: bool | None
    prevention: str
    status: str
    cluster: int  # 1-based
    issue: str | None  # e.g. "3.2", None when the case is in no issue of 3+ cases
    outlier: bool  # its own group was too small; it joined the nearest cluster
    x: float | None = None  # position on the 2-D map, None when not drawn
    y: float | None = None


@dataclass(frozen=True, slots=True)
class Issue:
    """A group of near-identical complaints inside a cluster, and what its measures achieved."""

    id: str
    keywords: tuple[str, ...]
    case_ids: tuple[str, ...]  # oldest first
    measures: tuple[Measure, ...]
    after_first_measure: tuple[str, ...]
    recent: int
    previous: int
    trend: str
    continues_after_measure: bool
    growing_without_measure: bool

    @property
    def label(self) -> str:
        return label_of(self.keywords)

    @property
    def first_measure(self) -> Measure | None:
        return next((m for m in self.measures if m.date), None)


@dataclass(frozen=True, slots=True)
class Cluster:
    """A labelled group of similar cases with its trend, escalation share and measures."""

    id: int  # 1-based, largest cluster first
    label: str
    keywords: tuple[str, ...]
    case_ids: tuple[str, ...]  # oldest first
    representatives: tuple[str, ...]  # closest to the cluster's centre
    first_date: str | None
    last_date: str | None
    monthly: tuple[int, ...]  # cases per month, aligned with ClusterReport.months
    escalated_share: float | None  # None when no case records escalation
    top_products: tuple[tuple[str, int], ...]
    top_categories: tuple[tuple[str, int], ...]
    measures: tuple[Measure, ...]
    after_first_measure: tuple[str, ...]
    recent: int
    previous: int
    trend: str
    issues: tuple[Issue, ...]
    outliers: tuple[str, ...]
    flags: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.case_ids)

    def flagged_issues(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues
                     if i.continues_after_measure or i.growing_without_measure)


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
    unembedded: int  # selected cases without a vector (left out)
    took_ms: float

    @property
    def n_cases(self) -> int:
        return len(self.cases)

    @property
    def outliers(self) -> tuple[str, ...]:
        return tuple(i for c in self.clusters for i in c.outliers)

    def cluster_of(self, case_id: str) -> Cluster | None:
        info = self.cases.get(case_id)
        return self.clusters[info.cluster - 1] if info else None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (the CLI's --json)."""
        return {
            "state_version": self.state_version,
            "filters": asdict(self.filters),
            "params": asdict(self.params),
            "cases": self.n_cases,
            "unembedded": self.unembedded,
            "k_found": self.k_found,
            "algorithm": self.algorithm,
            "months": list(self.months),
            "outliers": list(self.outliers),
            "clusters": [_cluster_dict(c, self.months) for c in self.clusters],
            "assignments": {i: c.cluster for i, c in self.cases.items()},
            "took_ms": round(self.took_ms, 1),
        }

    def cases_csv(self) -> str:
        """One row per case with its cluster, issue and the cluster's flags (for Excel)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["case_id", "date", "cluster", "cluster_label", "issue", "outlier",
                         "cluster_flags", "product", "category", "escalated", "title"])
        for cluster in self.clusters:
            for case_id in cluster.case_ids:
                case = self.cases[case_id]
                writer.writerow([case.id, case.date or "", cluster.id, cluster.label,
                                 case.issue or "", int(case.outlier), " ".join(cluster.flags),
                                 case.product, case.category,
                                 "" if case.escalated is None else int(case.escalated),
                                 case.title])
        return out.getvalue()

    def clusters_csv(self) -> str:
        """One row per cluster: the summary table of the monthly review."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["cluster", "label", "size", "first_date", "last_date", "escalated_share",
                         "recent", "previous", "trend", "measures", "first_measure_date",
                         "cases_after_first_measure", "flags", "top_products", "top_categories",
                         "representatives"])
        for c in self.clusters:
            first = next((m.date for m in c.measures if m.date), None)
            writer.writerow([c.id, c.label, c.size, c.first_date or "", c.last_date or "",
                             "" if c.escalated_share is None else round(c.escalated_share, 3),
                             c.recent, c.previous, c.trend, len(c.measures), first or "",
                             len(c.after_first_measure), " ".join(c.flags),
                             "; ".join(f"{v} ({n})" for v, n in c.top_products),
                             "; ".join(f"{v} ({n})" for v, n in c.top_categories),
                             " ".join(c.representatives)])
        return out.getvalue()


def _cluster_dict(c: Cluster, months: Sequence[str]) -> dict[str, object]:
    return {
        "id": c.id, "label": c.label, "keywords": list(c.keywords), "size": c.size,
        "first_date": c.first_date, "last_date": c.last_date,
        "monthly": dict(zip(months, c.monthly, strict=True)),
        "escalated_share": c.escalated_share,
        "top_products": [list(p) for p in c.top_products],
        "top_categories": [list(p) for p in c.top_categories],
        "representatives": list(c.representatives),
        "measures": [asdict(m) for m in c.measures],
        "cases_after_first_measure": list(c.after_first_measure),
        "recent": c.recent, "previous": c.previous, "trend": c.trend,
        "flags": list(c.flags), "outliers": list(c.outliers), "case_ids": list(c.case_ids),
        "issues": [{**{k: v for k, v in asdict(i).items() if k != "measures"},
                    "label": i.label, "measures": [asdict(m) for m in i.measures]}
                   for i in c.issues],
    }


# ---- reading the selection ----
@dataclass(frozen=True, slots=True)
class _Row:
    id: str
    date: str | None
    title: str
    content: str
    product: str
    category: str
    escalated: bool | None
    prevention: str
    status: str


@dataclass
class Selection:
    """Selected cases with a vector, their mean complaint vectors and their Sudachi tokens."""

    rows: list[_Row]
    vectors: np.ndarray
    tokens: list[list[str]]
    unembedded: int
    state_version: int


def _connect(path: Path) -> sqlite3.Connection:
    """A connection of our own: reads run beside the app's searches without sharing a cursor."""
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


def read_version(path: Path) -> int:
    with _connect(path) as db:
        row = db.execute("SELECT value FROM manifest WHERE key = 'state_version'").fetchone()
    return int(row[0]) if row else 0


def load_selection(path: Path, filters: Filters) -> Selection:
    """One consistent snapshot: cases, mean vector of their complaint chunks, their tokens.

    Tokens come from the FTS5 rows our analyser wrote at ingest (Sudachi, stop words dropped),
    so nothing is re-tokenised here.
    """
    where, params = filters.sql("k")
    db = _connect(path)
    try:
        db.execute("BEGIN")
        row = db.execute("SELECT value FROM manifest WHERE key = 'state_version'").fetchone()
        version = int(row[0]) if row else 0
        cases = db.execute(
            f"SELECT k.id, k.date, k.title, k.content, k.product, k.category, k.escalated, "
            f"k.prevention, k.status FROM cases k WHERE {where} ORDER BY k.date, k.id",
            params).fetchall()
        sums: dict[str, np.ndarray] = {}
        tokens: dict[str, list[str]] = {}
        for case_id, blob, text in db.execute(
                f"SELECT c.case_id, c.vector, f.primary_text FROM chunks c "
                f"JOIN cases k ON k.id = c.case_id LEFT JOIN chunks_fts f ON f.rowid = c.id "
                f"WHERE c.part = 'complaint' AND c.vector IS NOT NULL AND {where} "
                f"ORDER BY c.case_id, c.ord", params):
            vector = np.frombuffer(blob, dtype=np.float32)
            sums[case_id] = sums[case_id] + vector if case_id in sums else vector.copy()
            tokens.setdefault(case_id, []).extend((text or "").split())
        db.execute("COMMIT")
    finally:
        db.close()
    rows = [_Row(r[0], r[1], r[2], r[3], r[4], r[5], None if r[6] is None else bool(r[6]), r[7],
                 r[8]) for r in cases if r[0] in sums]
    vectors = (np.vstack([sums[r.id] for r in rows]) if rows
               else np.zeros((0, 0), dtype=np.float32))
    if len(rows):
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return Selection(rows, vectors, [tokens[r.id] for r in rows], len(cases) - len(rows), version)


# ---- the cache ----
_cache: OrderedDict[tuple[object, ...], ClusterReport] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def cluster_cases(kb: KnowledgeBase, filters: Filters | None = None,
                  params: ClusterParams | None = None) -> ClusterReport:
    """Cluster the cases `filters` select; cached per base version, filters and parameters."""
    filters = filters or Filters()
    params = params or ClusterParams()
    path = Path(kb.layout.database).resolve()
    key = (str(path), read_version(path), filters, params)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    selection = load_selection(path, filters)
    report = build_report(selection, filters, params)
    with _cache_lock:
        _cache[(str(path), report.state_version, filters, params)] = report
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return report


# ---- building the report ----
def build_report(selection: Selection, filters: Filters, params: ClusterParams) -> ClusterReport:
    """Cluster a loaded selection and describe each cluster."""
    started = time.perf_counter()
    rows = selection.rows
    part = partition(selection.vectors, selection.tokens, params.n_clusters, params.neighbours,
                     params.text_weight, params.max_clusters, params.seed)
    dates = [r.date for r in rows if r.date]
    months = tuple(month_range(month_of(min(dates)), month_of(max(dates)))) if dates else ()
    issue_of = (subgroups(part.features, part.labels, seed=params.seed) if len(rows)
                else np.zeros(0, dtype=np.int64))
    k = int(part.labels.max()) + 1 if len(rows) else 0
    members = [np.flatnonzero(part.labels == c) for c in range(k)]
    keywords = class_keywords([_counts(selection.tokens, m) for m in members])
    issue_numbers = _issue_names(part.labels, issue_of)
    drawn, coords = layout_2d(part.features, part.labels, params.map_points, params.seed)
    position = {int(i): (float(x), float(y)) for i, (x, y) in zip(drawn, coords, strict=True)}
    cases: dict[str, CaseInfo] = {}
    for n, row in enumerate(rows):
        x, y = position.get(n, (None, None))
        cases[row.id] = CaseInfo(row.id, row.date, row.title, row.content, row.product,
                                 row.category, row.escalated, row.prevention, row.status,
                                 int(part.labels[n]) + 1, issue_numbers.get(int(issue_of[n])),
                                 bool(part.outliers[n]), x, y)
    issues = _describe_issues(rows, selection.tokens, issue_of, issue_numbers, months, params)
    clusters = tuple(
        _describe_cluster(c, members[c], rows, part, keywords[c], months, params,
                          tuple(i for i in issues if i.id.split(".")[0] == str(c + 1)))
        for c in range(k))
    return ClusterReport(selection.state_version, filters, params, months, clusters, cases,
                         part.k_found, part.algorithm, selection.unembedded,
                         (time.perf_counter() - started) * 1000)


def _counts(tokens: Sequence[Sequence[str]], indices: np.ndarray) -> Counter[str]:
    counts: Counter[str] = Counter()
    for i in indices:
        counts.update(tokens[int(i)])
    return counts


def _issue_names(labels: np.ndarray, issue_of: np.ndarray) -> dict[int, str]:
    """Issue number -> '3.2' (cluster 3, its second issue by size)."""
    names: dict[int, str] = {}
    for cluster in range(int(labels.max()) + 1 if len(labels) else 0):
        found = Counter(int(i) for i in issue_of[labels == cluster] if i >= 0)
        for rank, (issue, _) in enumerate(found.most_common(), start=1):
            names[issue] = f"{cluster + 1}.{rank}"
    return names


def _describe_issues(rows: list[_Row], tokens: list[list[str]], issue_of: np.ndarray,
                     names: dict[int, str], months: tuple[str, ...],
                     params: ClusterParams) -> list[Issue]:
    numbers = sorted(names)
    groups = [np.flatnonzero(issue_of == i) for i in numbers]
    keywords = class_keywords([_counts(tokens, g) for g in groups])
    out: list[Issue] = []
    for number, group, words in zip(numbers, groups, keywords, strict=True):
        chosen = [rows[int(i)] for i in group]
        measures = measures_of((r.id, r.date, r.prevention) for r in chosen)
        first = next((m.date for m in measures if m.date), None)
        after = cases_after(first, ((r.id, r.date) for r in chosen))
        recent, previous = recent_and_previous(monthly_counts((r.date for r in chosen), months),
                                               params.recent_months)
        trend = trend_of(recent, previous)
        out.append(Issue(names[number], words, tuple(r.id for r in chosen), measures, after,
                         recent, previous, trend, len(after) >= params.min_recurrences,
                         trend == "growing" and not measures))
    out.sort(key=lambda i: tuple(int(p) for p in i.id.split(".")))
    return out


def _describe_cluster(index: int, members: np.ndarray, rows: list[_Row], part: Partition,
                      keywords: tuple[str, ...], months: tuple[str, ...], params: ClusterParams,
                      issues: tuple[Issue, ...]) -> Cluster:
    chosen = [rows[int(i)] for i in members]  # rows are sorted by date, so these are too
    centre = part.features[members].mean(axis=0)
    closeness = part.features[members] @ centre
    representatives = tuple(chosen[int(i)].id for i in np.argsort(-closeness)[:3])
    dates = [r.date for r in chosen if r.date]
    known = [r.escalated for r in chosen if r.escalated is not None]
    measures = measures_of((r.id, r.date, r.prevention) for r in chosen)
    first = next((m.date for m in measures if m.date), None)
    monthly = monthly_counts((r.date for r in chosen), months)
    recent, previous = recent_and_previous(monthly, params.recent_months)
    trend = trend_of(recent, previous)
    flags = []
    if any(i.continues_after_measure for i in issues):
        flags.append(CONTINUES)
    if any(i.growing_without_measure for i in issues) or (trend == "growing" and not measures):
        flags.append(GROWING_NO_MEASURE)
    return Cluster(
        id=index + 1, label=label_of(keywords), keywords=keywords,
        case_ids=tuple(r.id for r in chosen), representatives=representatives,
        first_date=min(dates) if dates else None, last_date=max(dates) if dates else None,
        monthly=monthly, escalated_share=sum(known) / len(known) if known else None,
        top_products=_top(r.product for r in chosen), top_categories=_top(r.category for r in chosen),
        measures=measures, after_first_measure=cases_after(first, ((r.id, r.date) for r in chosen)),
        recent=recent, previous=previous, trend=trend, issues=issues,
        outliers=tuple(rows[int(i)].id for i in members if part.outliers[int(i)]),
        flags=tuple(flags))


def _top(values: Iterable[str], n: int = 3) -> tuple[tuple[str, int], ...]:
    return tuple(Counter(v for v in values if v).most_common(n))


__all__ = [
    "CONTINUES", "FLAGS", "GROWING_NO_MEASURE", "CaseInfo", "Cluster", "ClusterParams",
    "ClusterReport", "Issue", "Measure", "Selection", "build_report", "clear_cache",
    "cluster_cases", "load_selection", "min_cluster_size",
]
