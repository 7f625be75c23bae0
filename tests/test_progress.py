"""Progress with the time left: the estimate, its wording, and what an ingest reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb import KnowledgeBase, Remaining, remaining_text
from kb.write import cases as case_ingest
from kb.write import encoding


def test_remaining_follows_the_pace_and_restarts_with_a_new_total() -> None:
    now = [0.0]
    left = Remaining(clock=lambda: now[0])
    assert left.update(0, 100) is None  # no pace yet
    now[0] = 10.0
    assert left.update(20, 100) == pytest.approx(40.0)  # 20 in 10 s: 80 more in 40 s
    now[0] = 20.0
    assert left.update(40, 100) == pytest.approx(30.0)
    assert left.update(100, 100) == 0.0
    now[0] = 21.0
    assert left.update(1, 10) is None  # another stage: a new clock
    now[0] = 23.0
    assert left.update(5, 10) == pytest.approx(2.5)


def test_remaining_text_japanese_first_english_alongside() -> None:
    assert remaining_text(80) == "残り約 1分20秒"
    assert remaining_text(80, "en") == "about 1 min 20 s left"
    assert remaining_text(2) == "残り約 5秒"
    assert remaining_text(3725, "en") == "about 1 h 2 min left"


def test_ingest_reports_embed_and_store_in_cases_of_one_total(
        tmp_path: Path, ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Embedding ticks within each batch, then the batch stored: one count, one total, so one
    bar (and one estimate) spans the whole ingest."""
    monkeypatch.setattr(case_ingest, "CASE_BATCH", 4)
    monkeypatch.setattr(encoding, "TASK_TEXTS", 1)
    seen: list[tuple[int, int, str]] = []
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.ingest_ledger(ledger, progress=lambda d, t, s: seen.append((d, t, s)))
    ingest = [s for s in seen if s[2] in ("embed", "store")]
    assert {t for _, t, _ in ingest} == {8}
    assert [d for d, _, _ in ingest] == sorted(d for d, _, _ in ingest)
    assert [(d, s) for d, _, s in ingest if s == "store"] == [(4, "store"), (8, "store")]
    assert sum(s == "embed" for _, _, s in ingest) >= 8  # one tick per encoder task
