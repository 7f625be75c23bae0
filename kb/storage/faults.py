"""Crash points for the kill tests: with KB_FAULT=<name> the process SIGKILLs itself there.

Random kills from outside land mostly in the long phases (parsing, embedding,
SQLite inserts); these named points make sure the short ones between them are hit
too. Unset (always, outside tests) each point is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

from kb.settings import Settings

POINTS = ("before-commit", "after-commit", "faiss-before-rename", "faiss-after-rename",
          "manifest-before-commit", "embed-cached")  # embed-cached: an encoder batch was cached


def point(name: str) -> None:
    """Die here, as abruptly as a power cut to this process, if KB_FAULT names this point."""
    if Settings.from_env().fault == name:
        os.kill(os.getpid(), signal.SIGKILL)
