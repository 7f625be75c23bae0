"""Candidate pools of judged queries, gathered once per base and cached beside it.

A pool is what hybrid search fuses: every case either half found (top 100 chunks each)
with both raw scores (kb.candidate_pools). The fusion and confidence studies score every
fusion on the same pools. The cache maps query id -> pool and is valid for one state of
one base's cases (the version of their last change, and the model); a recalibration,
which only rewrites the manifest, keeps it. Queries not in it yet are gathered and added.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from kb import KnowledgeBase
from kb.search.evaluate import Query
from kb.storage.layout import CASES_KEY

Pool = tuple[list[str], np.ndarray, np.ndarray]  # (case ids, dense cosines, lexical -BM25)


def cases_key(kb: KnowledgeBase) -> tuple[int, str]:
    """Identifies what the pools depend on: the cases (and vectors) and the model."""
    return kb.store.index_version(CASES_KEY), kb.embedder.name


def candidate_pools(kb: KnowledgeBase, queries: list[Query], cache: str | Path | None
                    ) -> list[Pool]:
    """kb.candidate_pools for `queries`, reusing what `cache` holds for this base state."""
    key = cases_key(kb)
    path = Path(cache) if cache else None
    stored: dict[str, Pool] = {}
    if path is not None and path.exists():
        with path.open("rb") as handle:
            saved = pickle.load(handle)
        if saved.get("key") == key:
            stored = saved["pools"]
    missing = [q for q in queries if q.id not in stored]
    if missing:
        stored.update(zip([q.id for q in missing],
                          kb.candidate_pools([q.text for q in missing]), strict=True))
        if path is not None:
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as handle:
                pickle.dump({"key": key, "pools": stored}, handle,
                            protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(path)
    return [stored[q.id] for q in queries]
