"""Complaint knowledge base: store, index and search past cases (no UI code here).

This module is the public surface: the app (`ui/`), the CLI (`kb/cli/`), tests and
benchmarks import from `kb` only. Names load on first use (PEP 562), so `import kb`
costs nothing and the CLI's `--help` does not load FAISS, scikit-learn or a model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("KnowledgeBase",), "kb.knowledge_base"),
    **dict.fromkeys(("DocumentReport", "IngestReport", "Stats", "Progress", "Remaining",
                     "remaining_text"), "kb.reports"),
    **dict.fromkeys(("KBError", "KnowledgeBaseError", "ModelMismatchError", "EmbedderError",
                     "WriterLockTimeout", "BackupError", "SettingsError"), "kb.errors"),
    **dict.fromkeys(("Settings", "resolve_index_dir"), "kb.settings"),
    **dict.fromkeys(("Filters",), "kb.storage.filters"),
    **dict.fromkeys(("CaseHit", "PassageHit", "SearchResult", "MODES", "SearchMode"),
                    "kb.search.results"),
    **dict.fromkeys(("DEFAULT_FUSION", "FUSIONS"), "kb.search.fusion"),
    **dict.fromkeys(("Query", "load_qrels", "load_queries", "mean_metrics"), "kb.search.evaluate"),
    **dict.fromkeys(("match_spans", "tokens"), "kb.index.analyser"),
    **dict.fromkeys(("DEFAULT_MODEL",), "kb.embeddings"),
    **dict.fromkeys(("AuditEvent", "acting_as", "changed_fields", "default_actor", "fields_in",
                     "set_actor"), "kb.storage.audit"),
    **dict.fromkeys(("DocumentInfo",), "kb.storage.documents"),
    **dict.fromkeys(("is_draft_token", "new_draft_token"), "kb.storage.records"),
    **dict.fromkeys(("EXPORT_FORMATS", "export", "table"), "kb.outputs.export"),
    **dict.fromkeys(("NoteFields", "handover_html", "handover_markdown"), "kb.outputs.handover"),
    **dict.fromkeys(("CONTINUES", "GROWING_NO_MEASURE", "Cluster", "ClusterParams",
                     "ClusterReport", "cluster_cases"), "kb.clusters.report"),
    **dict.fromkeys(("CheckReport", "check_base"), "kb.ops.check"),
    **dict.fromkeys(("backup", "restore"), "kb.ops.backup"),
    **dict.fromkeys(("PasswordFormatError", "SignInThrottle", "check_format", "hash_password",
                     "verify_password"), "kb.passwords"),
    **dict.fromkeys(("SAMPLE_LEDGER", "ensure_sample"), "kb.write.sample"),
    **dict.fromkeys(("Fanout",), "kb.write.fanout"),
    **dict.fromkeys(("MigrateReport", "migrate_to_servers", "migrate_to_sqlite"), "kb.ops.migrate"),
}
_RENAMED = {"EXPORT_FORMATS": "FORMATS"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kb' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # what type checkers and IDEs see
    from kb.clusters.report import (
        CONTINUES,
        GROWING_NO_MEASURE,
        Cluster,
        ClusterParams,
        ClusterReport,
        cluster_cases,
    )
    from kb.embeddings import DEFAULT_MODEL
    from kb.errors import (
        BackupError,
        EmbedderError,
        KBError,
        KnowledgeBaseError,
        ModelMismatchError,
        SettingsError,
        WriterLockTimeout,
    )
    from kb.index.analyser import match_spans, tokens
    from kb.knowledge_base import KnowledgeBase
    from kb.ops.backup import backup, restore
    from kb.ops.check import CheckReport, check_base
    from kb.ops.migrate import MigrateReport, migrate_to_servers, migrate_to_sqlite
    from kb.outputs.export import FORMATS as EXPORT_FORMATS
    from kb.outputs.export import export, table
    from kb.outputs.handover import NoteFields, handover_html, handover_markdown
    from kb.passwords import (
        PasswordFormatError,
        SignInThrottle,
        check_format,
        hash_password,
        verify_password,
    )
    from kb.reports import DocumentReport, IngestReport, Progress, Remaining, Stats, remaining_text
    from kb.search.evaluate import Query, load_qrels, load_queries, mean_metrics
    from kb.search.fusion import DEFAULT_FUSION, FUSIONS
    from kb.search.results import MODES, CaseHit, PassageHit, SearchMode, SearchResult
    from kb.settings import Settings, resolve_index_dir
    from kb.storage.audit import (
        AuditEvent,
        acting_as,
        changed_fields,
        default_actor,
        fields_in,
        set_actor,
    )
    from kb.storage.documents import DocumentInfo
    from kb.storage.filters import Filters
    from kb.storage.records import is_draft_token, new_draft_token
    from kb.write.fanout import Fanout
    from kb.write.sample import SAMPLE_LEDGER, ensure_sample
