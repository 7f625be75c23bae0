"""The approximate (IVF) index: chosen above the threshold, close to exact, and still a
faithful copy of SQLite (filters, deletes, updates, stale files)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kb import Filters, KnowledgeBase
from kb.index import ivf as approx
from kb.index.faiss import VectorIndex
from kb.storage.layout import Layout

# Vectors around the real model's embeddings of the sample ledger, whose spread the IVF
# settings were tuned on (BENCHMARKS.md); copies of the session's real sample base.
pytestmark = pytest.mark.real_model


def _real_vectors(root: Path) -> np.ndarray:
    db = sqlite3.connect(root / "kb.sqlite3")
    try:
        rows = db.execute("SELECT vector FROM chunks WHERE vector IS NOT NULL").fetchall()
    finally:
        db.close()
    return np.vstack([np.frombuffer(r[0], dtype=np.float32) for r in rows])


def _realistic(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """`n` vectors around real USE embeddings: a real one mixed with another, plus noise."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(real), n), rng.integers(0, len(real), n)
    w = rng.uniform(0.6, 1.0, (n, 1)).astype(np.float32)
    mixed = w * real[a] + (1 - w) * real[b] + rng.normal(0, 0.03, (n, real.shape[1]))
    return (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def vectors(real_sample_base_template: Path) -> np.ndarray:
    return _realistic(_real_vectors(real_sample_base_template), 4300)


def _indexes(data: np.ndarray) -> tuple[VectorIndex, VectorIndex]:
    ids = np.arange(len(data), dtype=np.int64) * 7 + 3  # chunk ids are sparse, not positions
    exact, ivf = VectorIndex(data.shape[1]), VectorIndex(
        data.shape[1], approx.train_ivf(data.shape[1], len(data), data))
    exact.add(ids, data)
    ivf.add(ids, data)
    return exact, ivf


def test_ivf_recall_at_10_against_exact_search(vectors: np.ndarray) -> None:
    data, queries = vectors[:4000], vectors[4000:]
    exact, ivf = _indexes(data)
    assert ivf.kind == "ivf" and exact.kind == "flat"
    assert ivf.index.nprobe < ivf.index.nlist  # really approximate
    recall = np.mean([len(set(exact.search(q, 10)[1]) & set(ivf.search(q, 10)[1])) / 10
                      for q in queries])
    assert recall >= 0.95


def test_ivf_filter_returns_only_allowed_ids_and_exact_ones_when_narrow(
        vectors: np.ndarray) -> None:
    exact, ivf = _indexes(vectors[:4000])
    rng = np.random.default_rng(1)
    allowed = rng.choice(np.arange(4000) * 7 + 3, 60, replace=False)
    for q in vectors[4000:4020]:
        scores, ids = ivf.search(q, 10, allowed)
        assert set(ids) <= set(allowed) and len(ids) == 10
        assert list(ids) == list(exact.search(q, 10, allowed)[1])


def test_ivf_removes_and_reconstructs_by_chunk_id(vectors: np.ndarray) -> None:
    exact, ivf = _indexes(vectors[:4000])
    q = vectors[4001]
    top = int(ivf.search(q, 1)[1][0])
    np.testing.assert_allclose(ivf.vectors_for([top])[0], exact.vectors_for([top])[0])
    ivf.remove([top])
    assert len(ivf) == 3999 and top not in ivf.search(q, 10)[1]


def test_base_above_threshold_gets_ivf_and_keeps_behaving(
        sample_base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(approx, "APPROX_THRESHOLD", 200)
    with KnowledgeBase.open(sample_base) as kb:
        # The exact index on disk no longer suits the size: rebuilt as IVF and saved.
        assert kb.index.kind == "ivf" and len(kb.index) == kb.stats().vectors
        assert VectorIndex.load(Layout(sample_base).vectors)[0].kind == "ivf"
        filters = Filters(categories=("配送遅延",))
        hits = kb.search("荷物が届かない", mode="dense", filters=filters).hits
        assert hits and all(h.case.category == "配送遅延" for h in hits)
        gone = hits[0].case.id
        kb.delete_cases([gone])
        assert gone not in [h.case.id for h in kb.search("荷物が届かない", mode="dense").hits]
        assert len(kb.index) == kb.stats().vectors
        case = kb.get_case(hits[1].case.id)
        kb.ingest_cases([replace(case, content="冷蔵庫の霜取りが終わらず、庫内が水浸しになった。")])
        assert kb.search("冷蔵庫の霜取り 水浸し", mode="dense").hits[0].case.id == case.id
        assert kb.index.kind == "ivf" and len(kb.index) == kb.stats().vectors
    # A stale file (an older state version) is not trusted: rebuilt from SQLite, as IVF.
    VectorIndex(kb.embedder.dim).save(Layout(sample_base).vectors, version=0)
    with KnowledgeBase.open(sample_base) as kb:
        assert kb.index.kind == "ivf" and len(kb.index) == kb.stats().vectors
    # Well below the threshold again: back to exact search.
    monkeypatch.setattr(approx, "APPROX_THRESHOLD", 100_000)
    with KnowledgeBase.open(sample_base) as kb:
        assert kb.index.kind == "flat" and len(kb.index) == kb.stats().vectors


def test_hysteresis_keeps_the_current_kind_between_half_and_full_threshold() -> None:
    t = approx.threshold()
    assert approx.wanted_kind(t, "flat") == "ivf"
    assert approx.wanted_kind(t * 3 // 4, "ivf") == "ivf"
    assert approx.wanted_kind(t * 3 // 4, "flat") == "flat"
    assert approx.wanted_kind(t // 2 - 1, "ivf") == "flat"
