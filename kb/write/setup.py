"""Opening a base: its directory, the record store, and the model it was built with."""

from __future__ import annotations

import os
import re
from pathlib import Path

from kb.embeddings import DEFAULT_MODEL, Embedder, canonical_name, load_embedder
from kb.errors import KnowledgeBaseError, ModelMismatchError
from kb.index import analyser
from kb.index.base import TEMP_GLOB
from kb.settings import Settings, resolve_index_dir
from kb.storage import health
from kb.storage.backend import open_record_store
from kb.storage.cases import Store
from kb.storage.layout import Layout, Manifest
from kb.write.ingest import now


def open_store(directory: str | os.PathLike[str] | None, model: str | None,
               create: bool) -> tuple[Layout, Store, Embedder]:
    """The base's files and model; a new base records its model in the manifest. A damaged,
    read-only or full base is named as such (kb/storage/health.py)."""
    with health.translated(resolve_index_dir(directory)):
        return _open_store(directory, model, create)


def second_handle(layout: Layout, model: str) -> tuple[Layout, Store, Embedder]:
    """Another connection to an open base, and its own instance of the model on one thread
    (one model instance is not shared by threads that embed at once): for a long write in
    this process while searches go on through the first handle (KnowledgeBase.separate_writer)."""
    with health.translated(layout.root):
        return (layout, open_record_store(layout, Settings.from_env()),
                load_embedder(model, threads=1))


def _open_store(directory: str | os.PathLike[str] | None, model: str | None,
                create: bool) -> tuple[Layout, Store, Embedder]:
    layout = Layout(resolve_index_dir(directory))
    settings = Settings.from_env()
    if settings.backend == "sqlite" and not layout.database.exists() and not create:
        raise KnowledgeBaseError(f"no knowledge base at {layout.root} (run `kb ingest` first)")
    layout.root.mkdir(parents=True, exist_ok=True)  # on a server base: caches, manuals' FAISS
    read_only = settings.backend == "sqlite" and not os.access(layout.root, os.W_OK)
    if read_only and not layout.database.exists():  # a read-only mount says so, even to root
        raise health.read_only(layout.root)
    store = open_record_store(layout, settings, read_only)
    if not read_only:
        remove_orphan_temp_files(layout.root)
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


def remove_orphan_temp_files(root: Path) -> None:
    """Half-written derived files of processes that are gone (a kill, a full disk): they are
    never read, but they kept `kb check --no-repair` failing after a normal reopen."""
    for path in root.glob(TEMP_GLOB):
        pid = re.search(r"\.(\d+)\.tmp", path.name)  # kb/index/base.py: temp_name
        if pid and not _alive(int(pid.group(1))):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
