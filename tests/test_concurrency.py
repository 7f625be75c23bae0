"""Concurrent use with real processes: readers keep answering during ingests, writers take turns.

The reader is one long-lived process (as the app is) searching in every mode
while a writer process ingests four ledgers of 1,000 generated cases each. Every
search must succeed and return exactly what the writer saw at the same state
version: the old state or the new one, never a mix.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kb import KnowledgeBase
from kb.ops.check import check_base
from kb.storage.locking import WriterLock
from tests.concurrency_procs import MARKERS
from tests.conftest import ROOT, SAMPLE_LEDGER

BATCH = 1000
MIN_SEARCHES = 1000
HEADER = ["管理番号", "受付日", "件名", "クレーム内容", "発生原因", "対応内容"]

pytestmark = pytest.mark.slow  # real reader and writer processes, thousands of cases


def _generated(path: Path, batch: int) -> Path:
    """BATCH cases built from the sample complaints, each naming this batch's marker word.

    No 分類/商品 labels, so calibration keeps the default fusion weight and hybrid
    results depend only on the stored cases."""
    with SAMPLE_LEDGER.open(encoding="utf-8-sig", newline="") as handle:
        sample = list(csv.DictReader(handle))
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for n in range(BATCH):
            row = sample[(n * 7 + batch) % len(sample)]
            # The complaint (embedded) repeats every len(sample) rows, so a batch embeds
            # 360 texts, not 1,000; the number in the response keeps every case distinct.
            out.writerow([f"G{batch}-{n:04d}", f"2024/{1 + n % 12}/{1 + n % 28}", row["件名"],
                          f"{row['クレーム内容']} {MARKERS[batch]}の件です。", row["発生原因"],
                          f"{row['対応内容']}（受付{batch}-{n}）"])
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_searches_see_old_or_new_state_during_ingests(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    with KnowledgeBase.open(root) as base:
        base.ingest_ledger(_generated(tmp_path / "g0.csv", 0))
    ledgers = [str(_generated(tmp_path / f"g{i}.csv", i)) for i in range(1, len(MARKERS))]
    expected_file, reads_file = tmp_path / "expected.jsonl", tmp_path / "reads.jsonl"
    done = tmp_path / "writer.done"
    reader = subprocess.Popen([sys.executable, "-m", "tests.concurrency_procs", "reader", str(root),
                               str(reads_file), str(MIN_SEARCHES), str(done)], cwd=ROOT, env=_env())
    while not reads_file.exists() or reads_file.stat().st_size == 0:  # reader is up and searching
        assert reader.poll() is None, "reader died at start"
        time.sleep(0.05)
    started = time.perf_counter()
    writer = subprocess.run([sys.executable, "-m", "tests.concurrency_procs", "writer", str(root),
                             str(expected_file), *ledgers], cwd=ROOT, env=_env(),
                            capture_output=True, text=True, timeout=600)
    ingest_seconds = time.perf_counter() - started
    assert writer.returncode == 0, writer.stderr
    done.touch()
    assert reader.wait(timeout=600) == 0

    expected = {}
    for line in expected_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        expected[record["version"]] = record["results"]
    reads = [json.loads(line) for line in reads_file.read_text(encoding="utf-8").splitlines()]
    errors = [r["error"] for r in reads if "error" in r]
    assert not errors, errors[0]
    assert len(reads) >= MIN_SEARCHES
    during = [r for r in reads if r["version"] not in (min(expected), max(expected))]
    seen = {r["version"] for r in reads}
    mismatched = [r for r in reads if r["version"] not in expected
                  or expected[r["version"]][r["key"]] != r["hits"]]
    print(f"\n{len(reads)} searches, {len(errors)} errors, {len(mismatched)} mismatched; "  # noqa: T201
          f"{len(expected) - 1} ingests of {BATCH} cases in {ingest_seconds:.1f} s; "
          f"versions seen {sorted(seen)}; {len(during)} searches between first and last state")
    assert not mismatched, mismatched[:3]
    assert len(seen) >= 3  # the long-lived reader picked up new states as they were committed
    report = check_base(root, repair=False)
    assert report.consistent and all(f.ok for f in report.findings), report.to_dict()


def test_second_writer_waits_for_the_lock_and_readers_do_not(tmp_path: Path, ledger: Path) -> None:
    index = str(tmp_path / "kb")
    with KnowledgeBase.open(index) as base:
        base.ingest_ledger(ledger)
    acquired, release = threading.Event(), threading.Event()

    def hold() -> None:  # an ingest in progress, as far as any other process can tell
        with WriterLock(Path(index))():
            acquired.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    acquired.wait()
    try:
        kb = [sys.executable, "-m", "kb", "--index", index]
        search = subprocess.run([*kb, "search", "荷物が届かない", "-k", "1"], cwd=ROOT, env=_env(),
                                capture_output=True, text=True, timeout=120)
        assert search.returncode == 0 and "T-00" in search.stdout  # readers never take the lock
        refused = subprocess.run([*kb, "ingest", str(ledger)], cwd=ROOT,
                                 env={**_env(), "KB_LOCK_TIMEOUT": "1"},
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1
        assert "another ingest is running" in refused.stderr
        assert f"holds the writer lock {Path(index) / 'write.lock'}" in refused.stderr
        threading.Timer(3.0, release.set).start()
        waited = subprocess.run([*kb, "ingest", str(ledger)], cwd=ROOT, env=_env(),
                                capture_output=True, text=True, timeout=120)
    finally:
        release.set()
        holder.join()
    assert waited.returncode == 0, waited.stderr
    assert "another ingest is running" in waited.stderr and "unchanged" in waited.stdout
    assert check_base(Path(index), repair=False).consistent
