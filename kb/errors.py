"""One root for every error a user can fix: the CLI catches `KBError` in one place.

Each message says what went wrong and what to do (which file, row and field; which
command to run). `ingest/` raises `IngestError`, which derives from `KBError` too.
"""

from __future__ import annotations


class KBError(Exception):
    """A problem the user can fix; the message says how."""


class KnowledgeBaseError(KBError):
    """The base cannot do what was asked (missing, built by another version, ...)."""


class ModelMismatchError(KnowledgeBaseError):
    """The base was embedded with another model than the one requested."""


class EmbedderError(KBError):
    """The requested model cannot be loaded; the message says what to try."""


class WriterLockTimeout(KBError):
    """Another process kept the writer lock for longer than we were willing to wait."""


class BackupError(KBError):
    """A backup or restore was refused; the message says why."""


class SettingsError(KBError, ValueError):
    """An environment variable holds a value we cannot use."""
