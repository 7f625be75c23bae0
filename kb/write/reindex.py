"""Re-embed every case chunk and manual passage (optionally with another model), re-tokenise."""

from __future__ import annotations

import numpy as np

from kb.embeddings import Embedder
from kb.index import analyser
from kb.index.indexes import Indexes
from kb.reports import Progress
from kb.settings import Settings
from kb.storage import audit
from kb.storage.layout import CASES_KEY, DOCS_KEY
from kb.write.encoding import Encoder, worker_count


def reindex(indexes: Indexes, embedder: Embedder, progress: Progress | None = None) -> None:
    """Rewrite every vector and FTS5 row in one transaction; the caller reloads the indexes."""
    store, docs = indexes.store, indexes.docs
    rows = [r for batch in store.iter_chunk_texts() for r in batch]
    complaint = [(cid, text) for cid, part, text in rows if part == "complaint"]
    passages = docs.passage_texts()
    vectors = _embed_all(embedder, [t for _, t in complaint] + [t for _, t, _ in passages],
                         progress)
    with store.transaction() as db:
        store.mark_index_changed(CASES_KEY)
        store.mark_index_changed(DOCS_KEY)
        store.set_vectors([cid for cid, _ in complaint], vectors[: len(complaint)])
        store.retokenise([(cid, part, analyser.fts_document(text)) for cid, part, text in rows])
        docs.set_vectors([cid for cid, _, _ in passages], vectors[len(complaint):])
        docs.retokenise([(cid, analyser.fts_document(" ".join(heading)),
                          analyser.fts_document(text)) for cid, text, heading in passages])
        store.set_manifest(model=embedder.name, dim=embedder.dim,
                           analyser=analyser.ANALYSER_NAME)
        audit.record(db, "reindex", embedder.name, {"chunks": len(rows),
                                                    "passages": len(passages)})
    indexes.reset(embedder.dim)
    indexes.sync()


def _embed_all(embedder: Embedder, texts: list[str], progress: Progress | None) -> np.ndarray:
    """Embed with progress, on one encoder process per core when there are enough texts (as a
    large ingest does: same vectors as serial); an empty (0, dim) array when there is nothing."""
    vectors: list[np.ndarray] = []
    workers = worker_count(Settings.from_env().embed_workers)
    with Encoder(embedder, workers, expected=len(texts)) as encoder:
        for start, part in encoder.encode(texts):
            vectors.extend(part)
            if progress:
                progress(min(start + len(part), len(texts)), len(texts), "embed")
    return np.vstack(vectors) if vectors else np.zeros((0, embedder.dim), np.float32)
