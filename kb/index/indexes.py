"""The derived indexes of one base, kept in step with the record store.

Two FAISS files (cases, manual passages), each tagged with the state version of the
last write that changed its vectors, and the cases' lexical backend (FTS5, or BM25 in
memory on a large base). Writers apply their change after commit; readers sync before
searching, which picks up another process's commits.
"""

from __future__ import annotations

import numpy as np

from kb.index.base import LexicalBackend
from kb.index.bm25_memory import lexical_backend
from kb.index.faiss import DerivedIndex, VectorIndex
from kb.storage.cases import Store
from kb.storage.documents import DocumentStore
from kb.storage.layout import CASES_KEY, DOCS_KEY, Layout
from kb.storage.locking import WriterLock


def open_indexes(layout: Layout, store: Store,
                 dim: int) -> tuple[DocumentStore, WriterLock, Indexes]:
    """The manuals' store, the writer lock and the derived indexes the base's backend needs:
    `write.lock` and FAISS files in its directory, or (a PostgreSQL store) an advisory lock
    and Milvus collections."""
    if getattr(store, "backend", "sqlite") == "postgres+milvus":
        from kb.index.milvus_sync import MilvusIndexes  # pymilvus only for that backend
        from kb.settings import Settings

        docs, writer = store.documents(), store.writer_lock()
        uri = Settings.from_env().milvus_uri or ""
        return docs, writer, MilvusIndexes(layout, store, docs, dim, writer, uri)
    docs = DocumentStore(store.db)
    writer = WriterLock(layout.root)
    return docs, writer, Indexes(layout, store, docs, dim, writer)


class Indexes:
    """FAISS for cases and passages, plus the cases' lexical backend."""

    def __init__(self, layout: Layout, store: Store, docs: DocumentStore, dim: int,
                 writer: WriterLock) -> None:
        self.layout, self.store, self.docs, self.writer = layout, store, docs, writer
        self.reset(dim)

    def reset(self, dim: int) -> None:
        """Forget the loaded indexes (after a re-embedding with another model)."""
        self.cases = DerivedIndex(self.layout.vectors, dim, self.store.iter_vectors, self.writer)
        self.documents = DerivedIndex(self.layout.doc_vectors, dim, self.docs.iter_vectors,
                                      self.writer)
        self.version = -1

    @property
    def case_vectors(self) -> VectorIndex:
        return self.cases.index

    @property
    def passage_vectors(self) -> VectorIndex:
        return self.documents.index

    def sync(self) -> None:
        """Make the in-memory indexes reflect SQLite: load their files, or rebuild them."""
        version = self.store.state_version()
        if version == self.version:
            return
        self.cases.sync(self.store.index_version(CASES_KEY))
        self.documents.sync(self.store.index_version(DOCS_KEY))
        self.version = version

    def refresh(self) -> bool:
        """Pick up changes another process committed; True if anything changed."""
        before = self.version
        self.sync()
        return before != self.version

    def lexical(self) -> LexicalBackend:
        """The cases' lexical backend as of the current state."""
        return lexical_backend(self.store, self.layout.lexical,
                               self.store.index_version(CASES_KEY))

    def close(self) -> None:
        """Nothing to release: FAISS files are read whole (the server indexes hold clients)."""

    def applied(self, key: str, before: int, removed: list[int], ids: list[int],
                vectors: list[np.ndarray]) -> None:
        """Bring one FAISS index up to the write just committed (`key`: CASES_KEY or
        DOCS_KEY; `before`: its version when the write began), then note the new state."""
        index = self.cases if key == CASES_KEY else self.documents
        index.apply(before, self.store.index_version(key), removed, ids, vectors)
        self.sync()  # a no-op for `index`; picks up another writer's change to the other
