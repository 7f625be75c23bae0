"""Ingest fan-out: `--workers N` local processes and `--dask ADDRESS` give serial's vectors.

Embedding is a pure batch function (kb/write/fanout.py); wherever it runs, every stored
vector must equal the one a serial ingest stores (max abs difference <= 1e-6), and the
workers must really have run (not a silent fallback to this process).
"""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kb import Fanout, KnowledgeBase
from kb.write import encoding
from tests.conftest import ROOT, SAMPLE_LEDGER

# encoder processes and a Dask cluster start here: not in the quick subset
pytestmark = pytest.mark.slow

CASES = 80


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first CASES rows of the demo ledger (several encoder tasks of TASK_TEXTS texts)."""
    with SAMPLE_LEDGER.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))[: CASES + 1]
    path = tmp_path_factory.mktemp("fanout") / "ledger.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    assert CASES > 2 * encoding.TASK_TEXTS
    return path


def _vectors(root: Path) -> dict[str, np.ndarray]:
    """chunk text -> stored vector, straight from the base's SQLite file."""
    with sqlite3.connect(root / "kb.sqlite3") as db:
        rows = db.execute("SELECT text, vector FROM chunks WHERE vector IS NOT NULL").fetchall()
    return {text: np.frombuffer(blob, np.float32) for text, blob in rows}


@pytest.fixture(scope="module")
def serial(ledger: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    root = tmp_path_factory.mktemp("serial") / "kb"
    with KnowledgeBase.open(root) as kb:
        assert kb.ingest_ledger(ledger, fanout=Fanout(workers=1)).new == CASES
    return _vectors(root)


def _assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert got.keys() == want.keys() and len(want) >= CASES
    worst = max(float(np.abs(got[t] - want[t]).max()) for t in want)
    assert worst <= 1e-6, worst


def test_workers_give_the_vectors_of_a_serial_ingest(ledger: Path, tmp_path: Path,
                                                     serial: dict[str, np.ndarray],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Two spawned encoder processes (even for a model that would not start them itself)."""
    pools = []
    original = encoding.Encoder._pool_for

    def recording(self: encoding.Encoder, n: int) -> object:
        pool = original(self, n)
        pools.append(pool)
        return pool

    monkeypatch.setattr(encoding.Encoder, "_pool_for", recording)
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        assert kb.ingest_ledger(ledger, fanout=Fanout(workers=2)).new == CASES
    assert pools and all(p is not None for p in pools)
    _assert_same(_vectors(tmp_path / "kb"), serial)


def test_dask_cluster_gives_the_vectors_of_a_serial_ingest(ledger: Path, tmp_path: Path,
                                                           serial: dict[str, np.ndarray],
                                                           dask_scheduler: str) -> None:
    """The tasks run on the LocalCluster's workers, in order, one ingest batch at a time."""
    from distributed import Client

    with KnowledgeBase.open(tmp_path / "kb") as kb:
        assert kb.ingest_ledger(ledger, fanout=Fanout(dask=dask_scheduler)).new == CASES
    _assert_same(_vectors(tmp_path / "kb"), serial)
    with Client(dask_scheduler, set_as_default=False) as client:
        ran = client.run(lambda: sys.modules.get("kb.write.fanout") is not None)
    assert ran and all(ran.values()), ran  # every worker imported the batch function


def test_cli_workers_and_unreachable_dask(ledger: Path, tmp_path: Path,
                                          serial: dict[str, np.ndarray]) -> None:
    """`kb ingest --workers 2` stores serial's vectors; a dead scheduler is a clear error."""
    root = tmp_path / "kb"
    done = subprocess.run([sys.executable, "-m", "kb", "--index", str(root), "ingest",
                           str(ledger), "--workers", "2"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{CASES} new" in done.stdout
    _assert_same(_vectors(root), serial)
    failed = subprocess.run([sys.executable, "-m", "kb", "--index", str(tmp_path / "other"),
                             "ingest", str(ledger), "--dask", "tcp://127.0.0.1:9"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert failed.returncode != 0
    assert "Dask scheduler at tcp://127.0.0.1:9" in failed.stdout + failed.stderr
