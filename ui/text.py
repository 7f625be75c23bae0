"""Show ledger text as text: escape Markdown/HTML so a cell can never turn into markup."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~$<&])")


def escape_markdown(text: str) -> str:
    """Backslash-escape every character Markdown (or Streamlit's LaTeX) would interpret."""
    text = _MARKDOWN.sub(r"\\\1", text)
    return text.replace("\n", "  \n")
