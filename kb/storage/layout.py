"""Where a knowledge base keeps its files, and the typed manifest it records.

Every file name of the on-disk layout is declared here and nowhere else, so
check, backup, locking and the derived indexes agree on what a base is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DATABASE = "kb.sqlite3"
CASE_VECTORS = "vectors.faiss"
DOC_VECTORS = "documents.faiss"
LEXICAL = "lexical.npz"
WRITE_LOCK = "write.lock"
# Vectors an ingest embedded before it committed, so a killed one resumes (kb/storage/embed_cache.py).
EMBED_CACHE = "embed-cache.sqlite3"
BACKUP_MANIFEST = "backup.json"
# The numbers the last clusterings gave their groups, so the next keeps them (kb/clusters/ids.py).
CLUSTER_IDS = "cluster-ids.json"

# Manifest keys holding the state version each FAISS file must reflect.
CASES_KEY, DOCS_KEY = "vectors_version", "doc_vectors_version"


@dataclass(frozen=True)
class Layout:
    """The files of one base directory."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / DATABASE

    @property
    def vectors(self) -> Path:
        return self.root / CASE_VECTORS

    @property
    def doc_vectors(self) -> Path:
        return self.root / DOC_VECTORS

    @property
    def lexical(self) -> Path:
        return self.root / LEXICAL

    @property
    def write_lock(self) -> Path:
        return self.root / WRITE_LOCK

    @property
    def embed_cache(self) -> Path:
        return self.root / EMBED_CACHE

    @property
    def cluster_ids(self) -> Path:
        return self.root / CLUSTER_IDS


@dataclass(frozen=True)
class DerivedFile:
    """One FAISS file and the tables it is derived from (kb check, backup)."""

    name: str
    version_key: str
    table: str
    fts_table: str


DERIVED_FILES = (DerivedFile(CASE_VECTORS, CASES_KEY, "chunks", "chunks_fts"),
                 DerivedFile(DOC_VECTORS, DOCS_KEY, "doc_chunks", "doc_chunks_fts"))


@dataclass(frozen=True)
class Manifest:
    """What the manifest table records, typed (it stores strings)."""

    model: str | None = None
    dim: int = 0
    analyser: str | None = None
    created_at: str = ""
    schema_version: int = 0
    state_version: int = 0
    vectors_version: int = 0
    doc_vectors_version: int = 0
    fusion_dense_prior: float | None = None
    fusion_calibration: str = ""  # JSON of the last calibration, '' if never calibrated

    @classmethod
    def from_rows(cls, rows: dict[str, str]) -> Manifest:
        prior = rows.get("fusion_dense_prior")
        return cls(
            model=rows.get("model") or None, dim=int(rows.get("dim") or 0),
            analyser=rows.get("analyser") or None, created_at=rows.get("created_at", ""),
            schema_version=int(rows.get("schema_version") or 0),
            state_version=int(rows.get("state_version") or 0),
            vectors_version=int(rows.get(CASES_KEY) or 0),
            doc_vectors_version=int(rows.get(DOCS_KEY) or 0),
            fusion_dense_prior=float(prior) if prior and prior != "None" else None,
            fusion_calibration=rows.get("fusion_calibration", ""))

    def version_of(self, key: str) -> int:
        """State version a derived file must reflect (`CASES_KEY` or `DOCS_KEY`)."""
        return self.vectors_version if key == CASES_KEY else self.doc_vectors_version

    def calibration(self) -> dict[str, object] | None:
        return json.loads(self.fusion_calibration) if self.fusion_calibration else None
