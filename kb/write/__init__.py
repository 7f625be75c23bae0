"""Writes to the base: cases, manuals, lifecycle, reindex."""
