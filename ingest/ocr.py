"""OCR of scanned page images with the Tesseract command-line tool (Debian: tesseract-ocr, -jpn).

The CLI rather than a Python binding: it is one apt package, needs no compiler, and a
missing install is a warning on the affected pages, never an import error.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.markup import normalize

if TYPE_CHECKING:
    from PIL.Image import Image

INSTALL_HINT = "install tesseract-ocr and tesseract-ocr-jpn"
TIMEOUT_S = 180  # one page; a dense A4 scan takes a few seconds on two cores
_MIN_SIDE = 2000  # tesseract reads Japanese best at ~300 dpi; small scans are scaled up to this

_CJK = r"\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}]) +(?=[{_CJK}])")


class OcrError(RuntimeError):
    """Tesseract ran but failed (crash, timeout, unreadable image)."""


def available() -> bool:
    """Whether the tesseract command is on PATH."""
    return shutil.which("tesseract") is not None


@functools.cache
def languages() -> str:
    """'jpn+eng' when both are installed, else whichever is (tesseract needs at least one)."""
    try:
        listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                                timeout=30, check=False).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        listed = []
    chosen = [lang for lang in ("jpn", "eng") if lang in listed]
    return "+".join(chosen) or "eng"


def has_japanese() -> bool:
    """Whether Japanese OCR data (tesseract-ocr-jpn) is installed."""
    return "jpn" in languages().split("+")


def ocr_image(image: Image) -> str:
    """Text tesseract reads in `image`, NFKC-normalised, without the spaces it puts between kanji."""
    gray = image.convert("L")
    side = min(gray.size)
    if 0 < side < _MIN_SIDE:
        scale = _MIN_SIDE / side
        gray = gray.resize((round(gray.width * scale), round(gray.height * scale)))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "page.png"
        gray.save(source)
        return ocr_file(source)


def ocr_file(path: Path) -> str:
    """Text tesseract reads in the image file at `path` (a rendered page), as ocr_image()."""
    env = dict(os.environ)
    env.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract's own threads only slow it down on few cores
    try:
        done = subprocess.run(["tesseract", str(path), "stdout", "-l", languages(), "--psm", "3"],
                              capture_output=True, timeout=TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise OcrError(f"tesseract took longer than {TIMEOUT_S} s") from None
    except OSError as exc:
        raise OcrError(f"tesseract could not run ({exc})") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrError(f"tesseract failed: {message[-1] if message else done.returncode}")
    return tidy_ocr(done.stdout.decode("utf-8", "replace"))


def tidy_ocr(text: str) -> str:
    """Tesseract writes 年 次 有 給 for Japanese: spaces between CJK characters are removed."""
    return _CJK_GAP.sub("", normalize(text))
