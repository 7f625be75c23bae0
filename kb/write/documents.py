"""Manuals: add or replace one by file name (identical files skipped), or delete one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ingest.documents import Document, read_document
from kb.embeddings import Embedder
from kb.index import analyser
from kb.index.indexes import Indexes
from kb.reports import DocumentReport, Progress
from kb.settings import Settings
from kb.storage import audit
from kb.storage.layout import DOCS_KEY
from kb.write.cases import text_hash
from kb.write.ingest import now

# Passages per encoder call: small, so the bar of a long manual moves (with e5 ~4-8 passages/s).
PASSAGE_BATCH = 32


def ingest_document(indexes: Indexes, embedder: Embedder, path: str | Path | None = None,
                    data: bytes | None = None, name: str | None = None,
                    progress: Progress | None = None, ocr: bool | None = None) -> DocumentReport:
    """Add or replace a manual by file name; an identical file is skipped (and said so)."""
    source = Path(path) if path is not None else Path(name or "document")
    limits = Settings.from_env().limits()
    if data is not None or source.is_file():
        limits.check_size(name or source.name, len(data) if data is not None else source.stat().st_size)
    pages = (lambda done, count: progress(done, count, "pages")) if progress else None
    doc = read_document(source, data=data, name=name, ocr=ocr, on_page=pages,
                        max_memory=limits.max_parse_bytes)
    content = data if data is not None else source.read_bytes()
    report = DocumentReport(doc.name, "unchanged", doc.title, doc.pages, len(doc.passages),
                            list(doc.warnings))
    existing = indexes.docs.sha256_of(doc.name)
    if existing == doc.sha256:
        return report
    report.status = "replaced" if existing else "new"
    vectors = _passage_vectors(indexes, embedder, [p.text for p in doc.passages], progress)
    _store(indexes, doc, content, vectors, report.status)
    return report


def _passage_vectors(indexes: Indexes, embedder: Embedder, texts: list[str],
                     progress: Progress | None) -> dict[str, np.ndarray]:
    """text hash -> vector: stored ones reused, the rest embedded in batches."""
    by_hash = {text_hash(t): t for t in texts}
    found = {h: np.frombuffer(b, dtype=np.float32)
             for h, b in indexes.docs.vectors_by_hash(list(by_hash)).items()}
    todo = [(h, t) for h, t in by_hash.items() if h not in found]
    for start in range(0, len(todo), PASSAGE_BATCH):
        batch = todo[start : start + PASSAGE_BATCH]
        found.update(zip([h for h, _ in batch],
                         embedder.encode_documents([t for _, t in batch]), strict=True))
        if progress:
            progress(min(start + PASSAGE_BATCH, len(todo)), len(todo), "embed")
    return found


def _store(indexes: Indexes, doc: Document, content: bytes, vectors: dict[str, np.ndarray],
           status: str) -> None:
    """Replace the manual's passages in one transaction, then apply them to FAISS."""
    info = {"id": doc.name, "title": doc.title, "file_type": doc.file_type,
            "sha256": doc.sha256, "pages": doc.pages, "size": len(content),
            "warnings": json.dumps(doc.warnings, ensure_ascii=False),
            "ocr_pages": json.dumps(doc.ocr_pages),
            "needs_ocr_pages": json.dumps(doc.needs_ocr_pages)}
    store, docs = indexes.store, indexes.docs
    before = store.index_version(DOCS_KEY)
    ids: list[int] = []
    added: list[np.ndarray] = []
    with store.transaction():
        store.mark_index_changed(DOCS_KEY)
        removed = docs.delete_chunks(doc.name)
        docs.upsert(info, content, now())
        for order, passage in enumerate(doc.passages):
            digest = text_hash(passage.text)
            ids.append(docs.insert_passage(
                doc.name, order, passage.text, passage.page_start, passage.page_end,
                passage.heading_path, digest, vectors[digest],
                analyser.fts_document(" ".join(passage.heading_path)),
                analyser.fts_document(passage.text)))
            added.append(vectors[digest])
        audit.record(store.db, "ingest_document", doc.name,
                     {"passages": len(doc.passages), "pages": doc.pages or 0}, status)
    indexes.applied(DOCS_KEY, before, removed, ids, added)


def delete_document(indexes: Indexes, name: str) -> bool:
    """Remove a manual from SQLite, FTS5 and FAISS alike; False if there was none."""
    store = indexes.store
    before = store.index_version(DOCS_KEY)
    with store.transaction():
        store.mark_index_changed(DOCS_KEY)
        existed, removed = indexes.docs.delete(name)
        audit.record(store.db, "delete_document", name, {"deleted": int(existed)})
    indexes.applied(DOCS_KEY, before, removed, [], [])
    return existed
