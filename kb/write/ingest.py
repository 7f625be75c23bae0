"""Ledger and case ingest: limits, masking, one transaction, the audit event, the FAISS apply."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from contextlib import AbstractContextManager, nullcontext

from ingest.errors import RowError
from ingest.ledger import LedgerRead, read_ledger, write_rejects
from ingest.limits import Limits
from ingest.masking import MaskPolicy, mask_case, mask_text
from ingest.records import Case
from kb.embeddings import Embedder
from kb.index.indexes import Indexes
from kb.reports import IngestReport, Progress
from kb.search.calibration import Calibration, calibrate
from kb.search.fusion import DEFAULT_DENSE_PRIOR
from kb.settings import Settings
from kb.storage import audit
from kb.storage.embed_cache import EmbeddingCache
from kb.storage.layout import CASES_KEY
from kb.write.cases import write_cases
from kb.write.encoding import worker_count
from kb.write.fanout import Fanout, dask_executor

log = logging.getLogger(__name__)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def ingest_ledger(indexes: Indexes, embedder: Embedder, path: str | os.PathLike[str],
                  overrides: dict[str, str] | None = None, skip_invalid: bool = False,
                  progress: Progress | None = None, encoding: str | None = None,
                  masking: MaskPolicy | None = None, limits: Limits | None = None,
                  run_ids: dict[str, str] | None = None,
                  fanout: Fanout | None = None) -> IngestReport:
    """Read, validate and store a ledger: all rows or nothing, unless `skip_invalid`.

    `run_ids` (case id -> "file, line") holds the ids earlier files of the same run brought:
    a row with one of them is a conflict, not a silent replacement of the earlier row. The
    ids of this file are added once it is stored.
    """
    read = read_ledger(path, overrides, encoding=encoding,
                       limits=limits or Settings.from_env().limits())
    if run_ids is not None:
        _reject_run_conflicts(read, run_ids)
    if not skip_invalid:
        read.raise_for_errors()
    rejected = len({e.location for e in read.errors})
    policy = (masking or MaskPolicy()).for_mapping(read.mapping)
    target = mask_text(read.path, names=False)[0] if policy.enabled else read.path  # the audit log
    report = ingest_cases(indexes, embedder, read.cases, progress, policy, "ingest_ledger",
                          target, rejected, limits, fanout=fanout)
    report.source, report.ledger = read.path, read
    report.rejected = rejected
    if read.errors:
        report.rejects_file = str(write_rejects(read))
    if run_ids is not None:
        run_ids.update({c.id: f"{read.path}, {read.locations.get(c.id, '')}" for c in read.cases})
    return report


def _reject_run_conflicts(read: LedgerRead, run_ids: dict[str, str]) -> None:
    """Move the cases whose id an earlier file of this run already brought to the errors."""
    kept = []
    for case in read.cases:
        if case.id not in run_ids:
            kept.append(case)
            continue
        location = read.locations.get(case.id, "")
        read.errors.append(RowError(read.path, location, read.mapping.get("id", "id"),
                                    f"id '{case.id}' conflicts with {run_ids[case.id]}, read "
                                    "earlier in this run; give one of them another id"))
    read.cases = kept


def ingest_cases(indexes: Indexes, embedder: Embedder, cases: Iterable[Case],
                 progress: Progress | None, masking: MaskPolicy, action: str = "ingest_cases",
                 target: str = "", rejected: int = 0, limits: Limits | None = None,
                 fanout: Fanout | None = None, detail: str = "") -> IngestReport:
    """Upsert cases in one transaction, in bounded batches (kb/write/cases.py); only text
    that changed is embedded again. A retired case that comes in again stays retired.

    Vectors are also committed to the embedding cache as they are made, outside the
    transaction, so an ingest killed half-way resumes; the cache goes once this commits.
    `fanout` spreads the embedding over processes or a Dask cluster (kb/write/fanout.py).
    """
    store = indexes.store
    report = IngestReport()
    settings = Settings.from_env()
    prepared = _prepared(cases, masking, report, limits or settings.limits())
    before = store.index_version(CASES_KEY)
    cache = EmbeddingCache(indexes.layout.embed_cache, embedder.name)
    fan = fanout or Fanout()
    try:
        with store.transaction(), _executor(fan) as executor:
            store.mark_index_changed(CASES_KEY)
            writes = write_cases(store, embedder, prepared, now(), progress,
                                 total=len(cases) if isinstance(cases, list) else 0,
                                 cache=cache, workers=fan.workers or worker_count(
                                     settings.embed_workers), forced=fan.workers is not None,
                                 executor=executor)
            report.new, report.updated = writes.new, writes.updated
            report.unchanged, report.embedded = writes.unchanged, writes.embedded
            report.resumed = writes.resumed
            audit.record(store.db, action, target or writes.changed_names(),
                         {"new": report.new, "updated": report.updated,
                          "unchanged": report.unchanged, "rejected": rejected,
                          **{f"masked_{k}": n for k, n in report.masked.items()}}, detail)
    finally:
        cache.close()
    cache.discard()  # committed: every cached vector is in the base now
    if writes.rebuild_index:
        indexes.cases.version = -1
    indexes.applied(CASES_KEY, before, writes.removed, writes.added_ids, writes.added_vectors)
    if writes.changed and calibration_due(indexes):
        recalibrate(indexes, embedder, progress)
    return report


def _executor(fanout: Fanout) -> AbstractContextManager[Executor | None]:
    """The Dask cluster's executor when `--dask` names one; else none (local processes)."""
    return dask_executor(fanout.dask) if fanout.dask else nullcontext()


def _prepared(cases: Iterable[Case], masking: MaskPolicy, report: IngestReport,
              limits: Limits) -> Iterator[Case]:
    """Cases within the field limit, masked; the masked form is what is stored and embedded.

    A generator, so the batched write streams; a limit error inside it rolls the write back.
    """
    for case in cases:
        limits.check_case(case)
        masked, counts = mask_case(case, masking)
        for kind, n in counts.items():
            report.masked[kind] = report.masked.get(kind, 0) + n
        yield masked


def compare(indexes: Indexes, cases: list[Case]) -> dict[str, int]:
    """What an ingest of `cases` would do, without writing: new, updated, unchanged."""
    known = indexes.store.fingerprints([c.id for c in cases])
    unchanged = sum(known.get(c.id) == c.fingerprint() for c in cases)
    new = sum(c.id not in known for c in cases)
    return {"new": new, "updated": len(cases) - new - unchanged, "unchanged": unchanged}


def calibration_due(indexes: Indexes) -> bool:
    """Re-tune the fusion weight when the base has grown or shrunk by a tenth or more."""
    last = indexes.store.manifest().calibration()
    cases = indexes.store.counts()["cases"]
    return not last or abs(cases - int(last["cases_total"])) >= 0.1 * max(
        int(last["cases_total"]), 1)


def recalibrate(indexes: Indexes, embedder: Embedder,
                progress: Progress | None = None) -> Calibration | None:
    """Choose the fusion's dense prior from the base's labels (kb/search/calibration.py) and
    record it, with the evidence, in the manifest; the default prior without labels."""
    store = indexes.store
    indexes.sync()
    result = calibrate(store, indexes.case_vectors, indexes.lexical(), embedder,
                       progress=progress)
    prior = result.dense_prior if result else DEFAULT_DENSE_PRIOR
    log.info("calibrated the fusion: dense prior %s (%s)", prior,
             f"{result.queries} pseudo-queries, labels {result.label}" if result
             else "no usable labels: the default")
    record = {"cases_total": store.counts()["cases"], "at": now(),
              **(json.loads(result.to_json()) if result else {"dense_prior": None})}
    store.write_manifest(
        lambda db: audit.record(db, "calibrate", "", {"queries": result.queries if result else 0},
                                f"dense prior {prior}"),
        fusion_dense_prior=prior, fusion_calibration=json.dumps(record, ensure_ascii=False))
    return result
