"""What `kb stats` and the admin page show of a base: counts, model, versions, fusion."""

from __future__ import annotations

from kb.reports import Stats
from kb.search.searcher import Searcher
from kb.storage.cases import Store
from kb.storage.documents import DocumentStore
from kb.storage.layout import Layout


def stats(layout: Layout, store: Store, docs: DocumentStore, searcher: Searcher) -> Stats:
    manifest = store.manifest()
    embedder = searcher.embedder
    return Stats(**store.counts(), documents=docs.count(), model=embedder.name, dim=embedder.dim,
                 analyser=manifest.analyser or "", schema_version=manifest.schema_version,
                 state_version=store.state_version(), directory=str(layout.root),
                 fusion_dense_prior=searcher.dense_prior(),
                 fusion_calibration=manifest.fusion_calibration)
