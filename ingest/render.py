"""Render PDF pages to images with poppler's pdftoppm (Debian: poppler-utils), for OCR.

Pages whose text layer is glyph codes draw their words with a font, not with images, so
OCR needs the page as the renderer shows it. Like tesseract this is a command-line tool:
one apt package, and a missing install only leaves such pages named in the warnings.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

INSTALL_HINT = "apt-get install poppler-utils"
TIMEOUT_S = 120  # one page; a dense vector page renders in about a second on two cores
# Longest side of the rendered page in pixels: A4 at 300 dpi, which tesseract reads best.
# Scaling to a box rather than a fixed dpi bounds the image (and memory) on huge MediaBoxes.
MAX_SIDE = 3508


class RenderError(RuntimeError):
    """pdftoppm ran but gave no image (crash, timeout, a page it cannot draw)."""


def available() -> bool:
    """Whether the pdftoppm command is on PATH."""
    return shutil.which("pdftoppm") is not None


@contextmanager
def page_renderer(data: bytes) -> Iterator[Callable[[int], Path]]:
    """A function that renders page N of the PDF `data` to a grey PNG and returns its path.

    The PDF and the images live in one temporary directory, removed on exit; each image is
    valid until the next call (it is overwritten), so a long manual never fills the disk.
    """
    with tempfile.TemporaryDirectory(prefix="kb-render-") as tmp:
        source = Path(tmp) / "document.pdf"
        source.write_bytes(data)
        stem = Path(tmp) / "page"

        def render(number: int) -> Path:
            command = ["pdftoppm", "-f", str(number), "-l", str(number), "-scale-to", str(MAX_SIDE),
                       "-gray", "-png", "-singlefile", str(source), str(stem)]
            image = stem.with_suffix(".png")
            image.unlink(missing_ok=True)  # the previous page's
            try:
                done = subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, check=False)
            except subprocess.TimeoutExpired:
                raise RenderError(f"pdftoppm took longer than {TIMEOUT_S} s") from None
            except OSError as exc:
                raise RenderError(f"pdftoppm could not run ({exc})") from None
            if done.returncode != 0 or not image.is_file():
                message = done.stderr.decode("utf-8", "replace").strip().splitlines()
                raise RenderError(f"pdftoppm failed: {message[-1] if message else done.returncode}")
            return image

        yield render
