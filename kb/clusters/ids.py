"""Cluster numbers that stay put across writes: a cluster that is still (mostly) the same
group of cases keeps the number it had, so "cluster 3" in last month's review is cluster 3
after new cases came in.

The clustering itself numbers its groups largest first (kb/clusters/method.py); these
functions then match the new groups to the numbers of the previous computation for the same
filters by member overlap, and remember the result beside the base (Layout.cluster_ids).
A group that changed too much, or a new one, takes the smallest number left free; the number
of a group that merged into another stays unused until then, so numbers can have gaps.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from kb.index.base import atomic_write
from kb.storage.filters import Filters

log = logging.getLogger(__name__)

SAME_GROUP = 0.5  # Jaccard overlap of members above which a group keeps its old number
_KEPT_SELECTIONS = 8  # filter combinations remembered (the page's default view among them)


def selection_key(filters: Filters) -> str:
    """Which previous computation a new one is matched with: the same filters."""
    return json.dumps(asdict(filters), ensure_ascii=False, sort_keys=True)


def load_numbers(path: Path, key: str) -> dict[str, int]:
    """{case id: cluster number} of the previous computation for `key`; {} when none (or the
    file is unreadable: the numbers are a convenience, never a reason to fail)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): int(v) for k, v in data.get(key, {}).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def save_numbers(path: Path, key: str, numbers: dict[str, int]) -> None:
    """Remember this computation's numbers (atomic; a read-only or full base skips it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data.pop(key, None)
    data[key] = numbers  # newest last; the oldest selections are forgotten
    data = dict(list(data.items())[-_KEPT_SELECTIONS:])
    blob = json.dumps(data, ensure_ascii=False).encode("utf-8")
    try:
        atomic_write(path, lambda handle: handle.write(blob))
    except OSError as exc:
        log.info("cluster numbers not saved in %s: %s", path, exc)


def carried_numbers(labels: np.ndarray, case_ids: list[str],
                    previous: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, numbers): each group whose members overlap a previous cluster's by more than
    SAME_GROUP (Jaccard) keeps that cluster's number; the others take the smallest numbers
    left, largest group first. `labels` come back renumbered 0..k-1 in the order of their
    numbers, and numbers[label] is the group's (1-based) number."""
    k = int(labels.max()) + 1 if len(labels) else 0
    numbers = np.zeros(k, dtype=np.int64)
    old_sets: dict[int, set[int]] = {}
    for n, case_id in enumerate(case_ids):
        if (number := previous.get(case_id)) is not None:
            old_sets.setdefault(number, set()).add(n)
    new_sets = [set(np.flatnonzero(labels == c).tolist()) for c in range(k)]
    pairs = sorted(((len(a & b) / len(a | b), c, old) for c, a in enumerate(new_sets)
                    for old, b in old_sets.items() if a & b), reverse=True)
    for overlap, c, old in pairs:
        if overlap > SAME_GROUP and not numbers[c] and old not in numbers:
            numbers[c] = old
    free = (n for n in range(1, k + len(old_sets) + 1) if n not in numbers)
    for c in range(k):  # labels are numbered largest first: the rest in that order
        if not numbers[c]:
            numbers[c] = next(free)
    order = np.argsort(numbers, kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    return rank[labels], numbers[order]
