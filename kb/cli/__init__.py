"""The `kb` command (thin: calls the public kb surface)."""

from kb.cli.main import main

__all__ = ["main"]
