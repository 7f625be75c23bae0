"""Retire, restore and delete cases: one transaction each, audited, FAISS applied after."""

from __future__ import annotations

from ingest.records import Case
from kb.embeddings import Embedder
from kb.index.indexes import Indexes
from kb.storage import audit
from kb.storage.layout import CASES_KEY
from kb.write.cases import index_cases
from kb.write.ingest import now


def retire(indexes: Indexes, ids: list[str]) -> list[str]:
    """Take cases out of search and clusters but keep them (restorable); returns those retired.

    Only their chunks leave SQLite, FTS5 and FAISS; nothing else is re-indexed.
    """
    store = indexes.store
    before = store.index_version(CASES_KEY)
    with store.transaction():
        store.mark_index_changed(CASES_KEY)
        retired = store.set_retired(list(dict.fromkeys(ids)), now())
        removed = store.delete_chunks_of(retired)
        audit.record(store.db, "retire_cases", ", ".join(retired),
                     {"requested": len(ids), "retired": len(retired)})
    indexes.applied(CASES_KEY, before, removed, [], [])
    return retired


def restore(indexes: Indexes, embedder: Embedder, ids: list[str]) -> list[str]:
    """Bring retired cases back into search; returns those restored."""
    store = indexes.store
    before = store.index_version(CASES_KEY)
    with store.transaction():
        store.mark_index_changed(CASES_KEY)
        restored = store.set_retired(list(dict.fromkeys(ids)), None)
        added, vectors = index_cases(store, embedder, list(store.get_cases(restored).values()))
        audit.record(store.db, "restore_cases", ", ".join(restored),
                     {"requested": len(ids), "restored": len(restored)})
    indexes.applied(CASES_KEY, before, [], added, vectors)
    return restored


def delete(indexes: Indexes, ids: list[str]) -> int:
    """Remove cases from SQLite, FTS5 and FAISS alike; returns how many existed."""
    store = indexes.store
    before = store.index_version(CASES_KEY)
    with store.transaction():
        store.mark_index_changed(CASES_KEY)
        deleted, removed = store.delete_cases(ids)
        audit.record(store.db, "delete_cases", ", ".join(ids),
                     {"requested": len(ids), "deleted": deleted})
    indexes.applied(CASES_KEY, before, removed, [], [])
    return deleted


def retired_cases(indexes: Indexes) -> list[tuple[Case, str]]:
    """Retired cases with when they were retired, most recent first (the manage page)."""
    found = [c for batch in indexes.store.iter_cases(retired=True) for c in batch]
    when = indexes.store.retired([c.id for c in found])
    return sorted(((c, when[c.id]) for c in found), key=lambda x: x[1], reverse=True)
