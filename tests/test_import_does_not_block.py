"""An import in the app's process does not hold up other sessions' searches (issue 16, item
13): the import runs on a separate handle (`KnowledgeBase.separate_writer`, as the ledgers page
does) while a search on the shared handle returns at once. Real SQLite, FAISS, threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from kb import KnowledgeBase
from tests.conftest import ROWS, write_ledger


def test_a_search_returns_while_an_in_process_import_is_half_way(tmp_path: Path) -> None:
    kb = KnowledgeBase.open(tmp_path / "kb")
    kb.ingest_ledger(write_ledger(tmp_path / "small.csv"))
    big = write_ledger(tmp_path / "big.csv", [[f"B-{i}", *ROWS[i % len(ROWS)][1:3],
                                               f"{ROWS[i % len(ROWS)][3]} 追加分 {i}",
                                               *ROWS[i % len(ROWS)][4:]] for i in range(120)])
    halfway, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def progress(done: int, total: int, stage: str) -> None:
        if not halfway.is_set():
            halfway.set()
            release.wait(120)  # the import stays mid-transaction until the search is done

    def run_import() -> None:
        try:
            with kb.separate_writer() as writer:
                writer.ingest_ledger(big, progress=progress)
        except BaseException as exc:  # reported below, in the test's thread
            failure.append(exc)

    worker = threading.Thread(target=run_import)
    worker.start()
    try:
        assert halfway.wait(120), failure
        started = time.perf_counter()
        result = kb.search("荷物が届かない", top_k=3)
        took = time.perf_counter() - started
    finally:
        release.set()
        worker.join(180)
    assert not failure, failure
    assert result.hits and took < 10, took
    assert not any(h.case.id.startswith("B-") for h in result.hits)  # not committed yet then
    assert kb.get_case("B-7") is not None  # and picked up once it was
    assert kb.search("追加分 7", mode="lexical", top_k=20).hits
    kb.close()
