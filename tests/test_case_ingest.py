"""Batched, pipelined case ingest: same result as one batch, one transaction, no orphans."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.ledger import read_ledger
from kb import KnowledgeBase
from kb.write import cases as case_ingest


def _orphans(root: Path) -> int:
    db = sqlite3.connect(root / "kb.sqlite3")
    try:
        return db.execute("SELECT count(*) FROM chunks c LEFT JOIN cases k ON k.id = c.case_id "
                          "WHERE k.id IS NULL").fetchone()[0] + db.execute(
            "SELECT (SELECT count(*) FROM chunks) - (SELECT count(*) FROM chunks_fts)"
        ).fetchone()[0]
    finally:
        db.close()


def test_small_batches_store_what_one_batch_stores(
        tmp_path: Path, ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = read_ledger(ledger).cases
    with KnowledgeBase.open(tmp_path / "one") as one:
        one.ingest_cases(cases)
        expected = [h.case.id for h in one.search("荷物が届かない").hits]
        counts = one.stats()
    monkeypatch.setattr(case_ingest, "CASE_BATCH", 3)
    monkeypatch.setattr(case_ingest, "KEEP_VECTORS", 2)  # FAISS rebuilt from SQLite instead
    seen: list[int] = []
    with KnowledgeBase.open(tmp_path / "batched") as kb:
        report = kb.ingest_cases(iter(cases), progress=lambda d, t, s: s == "store" and seen.append(d))
        assert (report.new, report.embedded) == (len(cases), counts.vectors)
        assert [h.case.id for h in kb.search("荷物が届かない").hits] == expected
        assert (kb.stats().chunks, len(kb.index)) == (counts.chunks, counts.vectors)
    assert seen == [3, 6, 8]


def test_same_id_in_adjacent_batches_leaves_no_orphan_chunks(
        tmp_path: Path, ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(case_ingest, "CASE_BATCH", 2)
    cases = read_ledger(ledger).cases
    again = replace(cases[0], content="改訂: 荷物が二週間届かず、電話もつながらない。")
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        report = kb.ingest_cases([cases[0], cases[1], again, cases[2]])
        assert (report.new, report.updated) == (3, 1)
        assert kb.get_case(cases[0].id).content == again.content
        assert len(kb.index) == kb.stats().vectors
    assert _orphans(tmp_path / "kb") == 0


def test_a_failing_batch_rolls_back_the_whole_ingest(
        tmp_path: Path, ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(case_ingest, "CASE_BATCH", 2)
    cases = read_ledger(ledger).cases

    def broken():
        yield from cases[:5]
        raise OSError("ledger file vanished")

    with KnowledgeBase.open(tmp_path / "kb") as kb:
        with pytest.raises(OSError):
            kb.ingest_cases(broken())
        assert kb.stats().cases == 0 and len(kb.index) == 0
