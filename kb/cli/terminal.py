"""What the `kb` command prints is plain text: ledger text cannot drive the user's terminal.

A cell holding ANSI escape sequences (colours, cursor moves, a new window title, OSC 8
links) or other control characters would act on the terminal when `kb search` printed
it. The group's one boundary (kb/cli/main.py) routes standard output through
`PlainOutput` and error messages through `plain`: escape sequences are removed, and so
are other control characters (C0 but tab and newline, DEL, C1) and the bidirectional
overrides that make a line read differently from what it holds. JSON output already
escapes C0 characters (json.dumps); there only C1 and bidi characters are dropped.
"""

from __future__ import annotations

import io
import re
from typing import TextIO

_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]"           # CSI: colours, cursor, erase
                     r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, links
                     r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"      # DCS, SOS, PM, APC strings
                     r"|\x1b[ -/]*[0-~]"                    # other two-character escapes
                     r"|\x9b[0-?]*[ -/]*[@-~]")             # CSI as its one C1 character
# ...and lone surrogates, which no terminal encoding can write (UnicodeEncodeError).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def plain(text: str) -> str:
    """`text` without terminal escape sequences and control characters (tab, newline kept)."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))


class PlainOutput(io.TextIOBase):
    """A text stream that writes `plain(text)` to the stream it wraps."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # click probes with b"" to tell text from binary
            raise TypeError("PlainOutput takes text")
        self._stream.write(plain(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._stream, "errors", None)
