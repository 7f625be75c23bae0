"""The one Sudachi tokenizer of each thread, shared by the analyser and name masking (a
dictionary loaded twice per thread costs its memory and load time twice)."""

from __future__ import annotations

import threading

_local = threading.local()


def tokenizer():
    """This thread's tokenizer: they are not safe to share (Streamlit uses threads)."""
    tok = getattr(_local, "tokenizer", None)
    if tok is None:
        from sudachipy import Dictionary

        tok = Dictionary(dict="core").create()
        _local.tokenizer = tok
    return tok
