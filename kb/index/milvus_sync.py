"""The derived indexes of a PostgreSQL base: Milvus for cases, kept in step through an outbox.

As FAISS is derived from SQLite, Milvus is derived from PostgreSQL. Each write commits
its chunk changes to `index_outbox` in its own transaction (kb/storage/postgres.py);
after the commit the writer applies them to Milvus (upserts and deletes, idempotent) and
records the version Milvus now reflects (`milvus_applied_version`). A process killed
between the two leaves that version behind the cases' version: the next open, the next
writer or `kb check` applies the rest, so Milvus can never lose data. A reindex (every
vector and token changed) rebuilds the collections from PostgreSQL in bounded batches.
Manual passages keep a FAISS file in the local directory, derived from PostgreSQL.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import numpy as np

from kb.index.base import LexicalBackend, VectorBackend
from kb.index.faiss import DerivedIndex, VectorIndex
from kb.index.milvus import ChunkRow, MilvusLexical, MilvusVectors, connect
from kb.storage import faults
from kb.storage.documents import DocumentStore
from kb.storage.layout import CASES_KEY, DOCS_KEY, Layout
from kb.storage.postgres import APPLIED_KEY, REBUILD_KEY, PgStore, PgWriterLock

log = logging.getLogger(__name__)
COLLECTION_KEY = "milvus_collection"  # manifest: the prefix of this base's collections
_REBUILD_BATCH = 5000


@dataclass
class _Version:
    """What a write may reset to ask for a rebuild (kb/write/ingest.py: `cases.version = -1`)."""

    version: int = 0


def to_row(row: tuple) -> ChunkRow:
    """A PgStore.index_rows tuple as the row Milvus holds."""
    cid, case_id, part, blob, tokens, date, category, product, channel, escalated = row
    vector = None if blob is None else np.frombuffer(blob, dtype=np.float32)
    return ChunkRow(int(cid), case_id, part, vector, tokens or "", (date or "")[:10],
                    category or "", product or "", channel or "",
                    -1 if escalated is None else int(escalated))


class MilvusIndexes:
    """Indexes (kb/index/indexes.py) for a PostgreSQL base: the same calls, Milvus behind."""

    def __init__(self, layout: Layout, store: PgStore, docs: DocumentStore, dim: int,
                 writer: PgWriterLock, uri: str) -> None:
        self.layout, self.store, self.docs, self.writer = layout, store, docs, writer
        self.client = connect(uri)
        self.prefix = self._prefix()
        self.reset(dim)

    def _prefix(self) -> str:
        """This base's collection prefix, chosen once (several bases may share one Milvus)."""
        name = self.store.manifest_rows().get(COLLECTION_KEY)
        if name:
            return name
        with self.writer():
            name = self.store.manifest_rows().get(COLLECTION_KEY) or f"kb_{uuid.uuid4().hex[:16]}"
            self.store.write_manifest(**{COLLECTION_KEY: name})
        return name

    def reset(self, dim: int) -> None:
        """Forget the loaded indexes (after a re-embedding with another model)."""
        self.dim = dim
        self.dense = MilvusVectors(self.client, f"{self.prefix}_dense", dim, store=self.store)
        self.lex = MilvusLexical(self.client, f"{self.prefix}_lex", store=self.store)
        self.documents = DerivedIndex(self.layout.doc_vectors, dim, self.docs.iter_vectors,
                                      self.writer)
        self.cases = _Version()
        self.version = -1

    @property
    def case_vectors(self) -> VectorBackend:
        return self.dense

    @property
    def passage_vectors(self) -> VectorIndex:
        return self.documents.index

    def lexical(self) -> LexicalBackend:
        return self.lex

    def sync(self) -> None:
        """Load the passages' FAISS file for the current state; bring Milvus up to
        PostgreSQL if a writer died before applying (when no other writer is at it)."""
        version = self.store.state_version()
        if version == self.version:
            return
        self.documents.sync(self.store.index_version(DOCS_KEY))
        if self.behind() and self.writer.try_acquire():
            try:
                self.catch_up()
            finally:
                self.writer.release()
        self.version = version

    def refresh(self) -> bool:
        """Pick up changes another process committed; True if anything changed."""
        before = self.version
        self.sync()
        return before != self.version

    def behind(self) -> bool:
        """Milvus reflects an older version than the cases' last write."""
        return self.applied_version() < self.store.index_version(CASES_KEY)

    def applied_version(self) -> int:
        return int(self.store.manifest_rows().get(APPLIED_KEY, 0))

    def applied(self, key: str, before: int, removed: list[int], ids: list[int],
                vectors: list[np.ndarray]) -> None:
        """Bring the index `key` up to the write just committed (its outbox, for cases)."""
        if key == DOCS_KEY:
            self.documents.apply(before, self.store.index_version(key), removed, ids, vectors)
        else:
            self.catch_up()  # the outbox holds every change, even of a backlog ingest
            self.cases.version = self.store.index_version(CASES_KEY)
        self.version = -1
        self.sync()

    def catch_up(self, rebuild: bool = False) -> None:
        """Apply every committed outbox entry Milvus lacks (writer lock held), or rebuild."""
        target = self.store.index_version(CASES_KEY)
        applied = self.applied_version()
        rows = self.store.manifest_rows()
        if rebuild or int(rows.get(REBUILD_KEY, 0)) > applied:
            self.rebuild()
        elif applied < target:
            puts, removes = self.store.outbox(applied, target)
            self.dense.remove(removes)
            self.lex.remove(removes)
            for start in range(0, len(puts), _REBUILD_BATCH):
                self._put(self.store.index_rows(puts[start : start + _REBUILD_BATCH]))
        else:
            return
        faults.point("milvus-before-applied")
        self.store.write_manifest(**{APPLIED_KEY: target})
        self.store.prune_outbox(target)

    def _put(self, rows: list[tuple]) -> None:
        chunks = [to_row(r) for r in rows]
        self.lex.put(chunks)
        self.dense.put(chunks)

    def rebuild(self) -> None:
        """Both collections anew from PostgreSQL, streamed in bounded batches."""
        started = time.perf_counter()
        self.dense.drop()
        self.lex.drop()
        self.dense = MilvusVectors(self.client, f"{self.prefix}_dense", self.dim)
        self.lex = MilvusLexical(self.client, f"{self.prefix}_lex")
        last, count = -1, 0
        while rows := self.store.index_rows(after=last, limit=_REBUILD_BATCH):
            self._put(rows)
            last, count = int(rows[-1][0]), count + len(rows)
        log.info("rebuilt Milvus collections %s_* from PostgreSQL: %d chunks, %.1f s",
                 self.prefix, count, time.perf_counter() - started)

    def drop(self) -> None:
        """Remove this base's collections (tests, `kb migrate` back to SQLite)."""
        self.dense.drop()
        self.lex.drop()

    def close(self) -> None:
        self.client.close()
        self.writer.close()
