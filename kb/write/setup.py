"""Opening a base: its directory, the record store, and the model it was built with."""

from __future__ import annotations

import os

from kb.embeddings import DEFAULT_MODEL, Embedder, canonical_name, load_embedder
from kb.errors import KnowledgeBaseError, ModelMismatchError
from kb.index import analyser
from kb.settings import Settings, resolve_index_dir
from kb.storage.backend import open_record_store
from kb.storage.cases import Store
from kb.storage.layout import Layout, Manifest
from kb.write.ingest import now


def open_store(directory: str | os.PathLike[str] | None, model: str | None,
               create: bool) -> tuple[Layout, Store, Embedder]:
    """The base's files and model; a new base records its model in the manifest."""
    layout = Layout(resolve_index_dir(directory))
    settings = Settings.from_env()
    if settings.backend == "sqlite" and not layout.database.exists() and not create:
        raise KnowledgeBaseError(f"no knowledge base at {layout.root} (run `kb ingest` first)")
    layout.root.mkdir(parents=True, exist_ok=True)  # on a server base: caches, manuals' FAISS
    store = open_record_store(layout, settings)
    try:
        manifest = store.manifest()
        if not (manifest.model or create):  # a server database nobody has ingested into
            raise KnowledgeBaseError("no knowledge base in the PostgreSQL database at "
                                     "KB_POSTGRES_URL yet (run `kb ingest` first)")
        # A base keeps the model it was built with (an old USE base still opens with USE).
        wanted = canonical_name(model or Settings.from_env().embedding_model or manifest.model
                                or DEFAULT_MODEL)
        _check_compatible(layout, manifest, wanted)
        embedder = load_embedder(wanted)
        if not manifest.model:
            store.write_manifest(model=embedder.name, dim=embedder.dim,
                                 analyser=analyser.ANALYSER_NAME, created_at=now())
        return layout, store, embedder
    except BaseException:
        store.close()
        raise


def _check_compatible(layout: Layout, manifest: Manifest, wanted: str) -> None:
    """Refuse another model or analyser than the base was built with, naming the fix."""
    stored = manifest.model
    if stored and wanted != canonical_name(stored):
        raise ModelMismatchError(
            f"the knowledge base at {layout.root} was built with embedding model "
            f"'{stored}' (dim {manifest.dim}), not '{wanted}'. Run "
            f"`kb --index {layout.root} reindex --model {wanted}` to re-embed it with "
            f"'{wanted}', or drop --model / KB_EMBEDDING_MODEL to use '{stored}'.")
    if manifest.analyser not in (None, analyser.ANALYSER_NAME):
        raise KnowledgeBaseError(
            f"the lexical index was built with analyser '{manifest.analyser}'; run "
            f"`kb --index {layout.root} reindex` to rebuild it with this version.")
