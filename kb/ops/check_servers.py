"""`kb check` on a PostgreSQL + Milvus base: does Milvus hold exactly what PostgreSQL says?

PostgreSQL is the system of record, so only Milvus can be repaired: first by applying
the outbox entries it lacks (a writer killed after its commit), then, if the ids or
vectors still disagree, by rebuilding both collections from PostgreSQL.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from kb.index.milvus_sync import MilvusIndexes
from kb.ops.check import SPOT_CHECKS, CheckReport, Finding
from kb.settings import Settings
from kb.storage.layout import CASES_KEY, Layout
from kb.storage.postgres import PgStore


def check_server_base(root: Path, repair: bool = True) -> CheckReport:
    """Compare PostgreSQL with Milvus (applied version, chunk ids, 64 vectors); repair Milvus."""
    settings = Settings.from_env()
    report = CheckReport(root)
    store = PgStore(settings.postgres_url or "")
    try:
        manifest = store.manifest()
        if not manifest.model:
            report.findings.append(Finding("database", False, "ナレッジベースがありません / no "
                                           "knowledge base in this PostgreSQL database yet"))
            return report
        report.findings.append(Finding("postgres", True, f"{store.counts()['cases']} cases, "
                                       f"state version {manifest.state_version}"))
        indexes = MilvusIndexes(Layout(root), store, store.documents(), manifest.dim,
                                store.writer_lock(), settings.milvus_uri or "")
        try:
            with indexes.writer():
                _check_milvus(store, indexes, report, repair)
        finally:
            indexes.close()
    finally:
        store.close()
    return report


def _check_milvus(store: PgStore, indexes: MilvusIndexes, report: CheckReport,
                  repair: bool) -> None:
    applied, target = indexes.applied_version(), store.index_version(CASES_KEY)
    behind = Finding("milvus:applied", applied >= target,
                     f"Milvus reflects state version {applied}, the cases' last write is "
                     f"{target}", repairable=True)
    report.findings.append(behind)
    if not behind.ok and repair:
        indexes.catch_up()
        behind.repaired = True
    problems = _disagreements(store, indexes)
    found = Finding("milvus:collections", not problems,
                    "; ".join(problems) or "chunk ids and sampled vectors match PostgreSQL",
                    repairable=True)
    report.findings.append(found)
    if problems and repair:
        indexes.rebuild()
        found.repaired = not _disagreements(store, indexes)
        if found.repaired:
            store.write_manifest(milvus_applied_version=store.index_version(CASES_KEY))


def _disagreements(store: PgStore, indexes: MilvusIndexes) -> list[str]:
    """What differs between PostgreSQL's chunks and the two collections."""
    problems = []
    for name, held, want in (("lexical", indexes.lex.ids(), store.chunk_ids()),
                             ("dense", indexes.dense.ids(), store.chunk_ids(with_vector=True))):
        if not np.array_equal(held, want):
            missing = np.setdiff1d(want, held)
            extra = np.setdiff1d(held, want)
            problems.append(f"{name}: {len(held)} chunks in Milvus, {len(want)} in PostgreSQL "
                            f"({len(missing)} missing, {len(extra)} extra)")
    ids = store.chunk_ids(with_vector=True).tolist()
    sample = random.Random(0).sample(ids, min(SPOT_CHECKS, len(ids)))
    if sample and not problems:
        stored = {int(r[0]): np.frombuffer(r[3], np.float32) for r in store.index_rows(sample)}
        held = indexes.dense.held_vectors(sample)  # Milvus's own, not PostgreSQL's
        if not all(np.array_equal(stored[i], v) for i, v in zip(sample, held, strict=True)):
            problems.append("dense: sampled vectors differ from PostgreSQL's")
    return problems
