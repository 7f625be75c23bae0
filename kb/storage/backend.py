"""Which record store a base lives in: the SQLite file in its directory, or PostgreSQL."""

from __future__ import annotations

from kb.errors import KnowledgeBaseError
from kb.settings import Settings
from kb.storage.cases import Store
from kb.storage.layout import Layout


def open_record_store(layout: Layout, settings: Settings, read_only: bool = False) -> Store:
    """KB_BACKEND's record store: `kb.sqlite3` under the base's directory (the default), or
    the PostgreSQL database at KB_POSTGRES_URL (psycopg is imported only then). `read_only`:
    the SQLite file of a read-only mount, opened to search only."""
    if settings.backend == "sqlite":
        return Store(layout.database, read_only=read_only)
    try:
        from kb.storage.postgres import PgStore
    except ImportError as exc:
        raise KnowledgeBaseError(
            f"KB_BACKEND={settings.backend} needs psycopg and pymilvus ({exc}); "
            f"pip install -r requirements.txt") from exc
    return PgStore(settings.postgres_url or "")
