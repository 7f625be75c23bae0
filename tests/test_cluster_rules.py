"""The rules behind cluster labels and prevention flags, on plain values (issue 15, 12-13)."""

from __future__ import annotations

from collections import Counter

import pytest

from kb.clusters.describe import Measure, class_keywords, keyword_worthy, label_of
from kb.clusters.issues import issue_status, recurrence


@pytest.mark.parametrize(("token", "worthy"), [
    ("ケトル", True), ("誤配送", True), ("wireless", True),
    ("kt", False), ("mr", False), ("ap", False),  # what is left of KT-10, MR-200, AP-300
    ("10", False), ("商品", False), ("製品", False), ("お客様", False)])
def test_keyword_worthy(token: str, worthy: bool) -> None:
    assert keyword_worthy(token) is worthy


def test_labels_skip_model_number_pieces_and_generic_words() -> None:
    kettle = Counter({"ケトル": 9, "kt": 9, "10": 9, "商品": 8, "誤配送": 6, "届く": 5})
    oven = Counter({"レンジ": 9, "電子": 8, "mr": 8, "200": 8, "商品": 8, "ドア": 7})
    labels = [label_of(k) for k in class_keywords([kettle, oven])]
    assert labels == ["ケトル / 誤配送 / 届く", "レンジ / 電子 / ドア"]


def _monthly(start: tuple[int, int], months: int, per_month: int = 1) -> list[str]:
    year, month = start
    out = []
    for _ in range(months):
        out += [f"{year:04d}-{month:02d}-{10 + d:02d}" for d in range(per_month)]
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


MEASURE = (Measure("C-1", "2024-01-15", "検品を二重にした"),)


def test_recurrence_rates_before_and_after_the_measure() -> None:
    dates = _monthly((2023, 7), 7) + _monthly((2024, 2), 10, per_month=2)
    rec = recurrence("2024-01-15", dates, "2024-11-30")
    assert (rec.before, rec.after) == (7, 20)
    assert rec.before_rate == pytest.approx(7 / 6.2, rel=0.05)
    assert rec.after_rate == pytest.approx(20 / 10.5, rel=0.05)


@pytest.mark.parametrize(("after_per_month", "after_months", "status"), [
    (3, 10, "continues"),  # three times as often as before: the measure did not help
    (2, 10, "continues"),
    (1, 10, "recurs"),  # as often as before: not clearly above it
    (1, 2, "recurs"),  # 2 cases: more than a stray one, under the minimum count
    (1, 1, "stopped"),  # one stray case, the measure old enough to tell
    (0, 0, "stopped"),  # nothing after it
])
def test_status_follows_the_rate_after_the_measure(after_per_month: int, after_months: int,
                                                   status: str) -> None:
    dates = _monthly((2023, 7), 7) + _monthly((2024, 2), after_months, after_per_month)
    rec = recurrence("2024-01-15", dates, "2024-11-30")
    assert issue_status(MEASURE, rec, "2024-11-30", min_recurrences=3, ratio=1.5) == status


def test_a_few_cases_long_after_a_measure_recur_but_do_not_continue() -> None:
    dates = _monthly((2023, 7), 7, per_month=2) + ["2024-05-10", "2024-09-10", "2024-11-20"]
    rec = recurrence("2024-01-15", dates, "2024-11-30")
    assert rec.after == 3 and rec.after_rate < rec.before_rate / 3
    assert issue_status(MEASURE, rec, "2024-11-30", min_recurrences=3, ratio=1.5) == "recurs"
    assert issue_status(MEASURE, None, "2024-02-10", min_recurrences=3, ratio=1.5) == "too_early"
    assert issue_status((), None, "2024-11-30", min_recurrences=3, ratio=1.5) == "no_measure"


def test_trends_count_back_from_the_reference_date(tmp_path, ledger) -> None:
    """Issue 15, item 16: one case dated today no longer empties every trend, once the
    reference date is stated; without one, the newest case still sets it."""
    from ingest.records import Case
    from kb import ClusterParams, KnowledgeBase, cluster_cases

    with KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.ingest_ledger(ledger)  # 2024-01 .. 2025-02
        kb.ingest_cases([Case(id="NEW", content="レンジのドアが閉まらない", date="2026-12-01")])
        newest = cluster_cases(kb)
        as_of = cluster_cases(kb, params=ClusterParams(reference="2025-02-28"))
    assert newest.months[-1] == "2026-12" and sum(c.recent for c in newest.clusters) == 1
    assert as_of.months[-1] == "2025-02" and as_of.params.reference == "2025-02-28"
    assert sum(c.recent for c in as_of.clusters) == 3  # 2024-09, 2025-01, 2025-02


def test_after_a_write_the_default_clusters_are_computed_in_the_background(kb) -> None:
    """Issue 15, item 15 (in part): the clusters page then opens on a ready result."""
    from kb import cluster_cases
    from kb.clusters.report import clear_cache
    from ui.state import default_cluster_params, warm_clusters

    clear_cache()
    warm_clusters(kb).join(timeout=120)
    stages: list[str] = []
    report = cluster_cases(kb, params=default_cluster_params(kb),
                           progress=lambda done, total, stage: stages.append(stage))
    assert report.n_cases == 8 and stages == []  # ready: nothing left to compute
    clear_cache()
    cluster_cases(kb, params=default_cluster_params(kb),
                  progress=lambda done, total, stage: stages.append(stage))
    assert stages[0] == "cluster_read" and stages[-1] == "cluster_map"  # computed, by stage


def test_cluster_numbers_are_the_same_on_every_run_for_unchanged_data(sample_base) -> None:
    """Issue 15, item 14: recomputing (a new process, a cleared cache) keeps every number."""
    from kb import KnowledgeBase, cluster_cases
    from kb.clusters.report import clear_cache

    with KnowledgeBase.open(sample_base) as kb:
        first = cluster_cases(kb)
        clear_cache()
        again = cluster_cases(kb)
    assert again is not first
    assert {i: c.cluster for i, c in again.cases.items()} == {i: c.cluster for i, c in first.cases.items()}
    assert [c.label for c in again.clusters] == [c.label for c in first.clusters]


def _groups(report) -> set[frozenset[str]]:
    return {frozenset(c.case_ids) for c in report.clusters}


def test_a_write_that_leaves_the_clustered_cases_as_they_were_reuses_the_clusters(kb) -> None:
    """Issue 15, item 15: only a change to what the clusters are computed from (the selected
    cases' complaint text and vectors, dates, products, measures ...) computes them again."""
    import dataclasses

    from ingest.records import Case
    from kb import cluster_cases
    from kb.clusters.report import clear_cache

    clear_cache()
    first = cluster_cases(kb)
    stages: list[str] = []

    def hear(done: int, total: int, stage: str) -> None:
        stages.append(stage)

    answered = dataclasses.replace(kb.get_case("T-002"), response="翌日に配達し、お詫びした")
    kb.ingest_cases([answered])  # the response is not part of what clusters are made of
    again = cluster_cases(kb, progress=hear)
    assert again.state_version > first.state_version and stages == ["cluster_read"]
    assert again.clusters == first.clusters and again.cases == first.cases

    kb.ingest_cases([Case(id="T-100", date="2025-03-01", title="ログインできない",
                          content="通販サイトにログインできない。エラーが出る。")])
    stages.clear()
    recorded = cluster_cases(kb, progress=hear)
    assert "cluster_group" in stages and "T-100" in recorded.cases  # a new case: computed
    clear_cache()
    scratch = cluster_cases(kb)
    assert scratch is not recorded and _groups(scratch) == _groups(recorded)
    assert [c.label for c in scratch.clusters] == [c.label for c in recorded.clusters]


def test_numeric_steps_run_on_one_thread_while_the_cores_are_busy(kb, monkeypatch) -> None:
    """Two spinning OpenBLAS threads on busy cores made the sample's clustering ~8 times
    slower (kb/clusters/method.py numeric_threads); idle cores keep every thread."""
    import os

    from threadpoolctl import threadpool_info, threadpool_limits

    from kb import cluster_cases
    from kb.clusters.report import clear_cache
    from kb.embeddings import cores

    seen: dict[str, int] = {}

    def hear(done: int, total: int, stage: str) -> None:
        seen[stage] = max(i["num_threads"] for i in threadpool_info())

    with threadpool_limits(limits=2):
        for load, threads in ((cores() + 2.0, 1), (0.0, 2)):
            monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
            clear_cache()
            cluster_cases(kb, progress=hear)
            assert seen["cluster_group"] == seen["cluster_map"] == threads
            assert max(i["num_threads"] for i in threadpool_info()) == 2  # restored after it


def test_a_group_keeps_its_number_when_others_grow_past_it() -> None:
    """Issue 15, item 14: numbers follow the groups (member overlap), not their sizes."""
    import numpy as np

    from kb.clusters.ids import carried_numbers

    ids = [f"C{n}" for n in range(10)]
    before = {"C0": 1, "C1": 1, "C2": 1, "C3": 1, "C4": 2, "C5": 2, "C6": 2, "C7": 3, "C8": 3}
    # Largest first, the former cluster 2 (C9 joined it) is now 0 and 3 is 1; 1 split in two.
    labels = np.array([2, 2, 3, 3, 0, 0, 0, 1, 1, 0])
    relabelled, numbers = carried_numbers(labels, ids, before)
    shown = [int(numbers[g]) for g in relabelled]
    assert shown == [1, 1, 4, 4, 2, 2, 2, 3, 3, 2]  # 2 and 3 kept; the halves of 1 get 1, 4
    fresh, numbers = carried_numbers(labels, ids, {})
    assert fresh.tolist() == labels.tolist() and numbers.tolist() == [1, 2, 3, 4]
    # An unchanged group keeps its number when groups before it merged: numbers have gaps.
    _, numbers = carried_numbers(np.array([0, 0, 0]), ["C0", "C1", "C2"], dict.fromkeys(ids, 9))
    assert numbers.tolist() == [9]


def test_cluster_numbers_stay_with_their_groups_after_a_write(sample_base) -> None:
    """Issue 15, item 14: after new cases made one group larger than its neighbours, every
    group that is still mostly the same cases keeps its number, in this process and the next
    (the numbers are kept beside the base), where a fresh numbering would have moved them."""
    import dataclasses
    from pathlib import Path

    from kb import Filters, KnowledgeBase, cluster_cases
    from kb.clusters.report import build_report, clear_cache
    from kb.storage.selection import load_selection

    def same(a, b) -> bool:
        a, b = set(a.case_ids), set(b.case_ids)
        return len(a & b) / len(a | b) > 0.5

    with KnowledgeBase.open(sample_base) as kb:
        first = cluster_cases(kb)
        middle, bigger = first.clusters[len(first.clusters) // 2], first.clusters[1]
        members = list(kb.store.get_cases(list(middle.case_ids)).values())
        copies = [dataclasses.replace(members[n % len(members)], id=f"X-{n}", date="2025-06-01")
                  for n in range(bigger.size - middle.size + 3)]
        kb.ingest_cases(copies)  # the middle group grows past the second largest
        after = cluster_cases(kb)
        fresh = build_report(load_selection(Path(kb.layout.database), Filters()), Filters(),
                             after.params)  # numbered largest first, as before this change
        clear_cache()
        again = cluster_cases(kb)  # as a restarted app computes it
    kept = [(old, new) for old in first.clusters for new in after.clusters if same(old, new)]
    assert len(kept) >= len(first.clusters) // 2
    assert all(old.id == new.id for old, new in kept)
    moved = [old for old, _ in kept for f in fresh.clusters if same(old, f) and f.id != old.id]
    assert moved  # without the kept numbers some of these groups would have been renumbered
    assert [c.case_ids for c in again.clusters] == [c.case_ids for c in after.clusters]
