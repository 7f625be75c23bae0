"""Zip containers (XLSX, DOCX) checked before they are opened: a decompression bomb is refused
by its declared sizes, before a byte of it is inflated.

A 1.5 MB workbook whose shared strings expanded to 1.5 GB peaked at 3.1 GB of memory; a
0.6 MB Word file expanded to 199 MB of text ran for ten minutes. zipfile never inflates a
member past the size its header declares, so checking the declared sizes is enough.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

MAX_RATIO = 100  # inflated / compressed, for a member over MIN_CHECKED: real Office XML is 5-30
MIN_CHECKED = 8 * 1024 * 1024  # small members may compress as well as they like
MAX_TOTAL = 512 * 1024 * 1024  # everything inside one file, inflated


def zip_problem(source: Path | IO[bytes], max_total: int = MAX_TOTAL) -> str:
    """Why this zip container is too big to open once inflated, or '' (also '' if it is not
    a readable zip: the reader then says what is wrong with it)."""
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError):
        return ""
    total = 0
    for info in members:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MIN_CHECKED and ratio > MAX_RATIO:
            return (f"{info.filename} inside it expands {ratio:,.0f} times, to {_mb(info.file_size)}"
                    f" (at most {MAX_RATIO} times): not a real Office file; save it again")
    if total > max_total:
        return (f"it expands to {_mb(total)} once unpacked, over the limit of {_mb(max_total)}; "
                "split it into smaller files")
    return ""


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"
