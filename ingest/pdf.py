"""Read PDF pages into blocks with pypdf; scanned or garbled pages go to OCR or are reported.

A page is indexed only if its text layer reads as words. Pages without one (scans) are read
by Tesseract from the page's images when it is installed; pages whose text is glyph codes (a
font without a Unicode map) draw their words with that font, so they are rendered by
pdftoppm (poppler-utils) and then read by Tesseract. Pages that cannot be read are listed
in warnings so that a knowledge manager knows which pages search cannot see.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from ingest import ocr as tesseract
from ingest import render as pdf_render
from ingest.markup import (
    HEX_GLYPHS,
    Block,
    Line,
    Unreadable,
    heading_of,
    lines_to_blocks,
    normalize,
    tidy,
    typical_width,
)

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

_CID = re.compile(r"\(cid:\d+\)")
_RUN = re.compile(r"(.)\1{3,}")
_PAGE_NUMBER = re.compile(  # "12", "- 12 -", "3 / 40", "p. 7"
    r"^(?:[-–—]\s*)?\d{1,4}(?:\s*[-–—])?$|^\d{1,4}\s*/\s*\d{1,4}$|^(?:p\.|page)\s*\d{1,4}$", re.IGNORECASE)
_STRONG_JUNK = ("Cc", "Cn", "Cs")  # controls, unassigned, lone surrogates
_MIN_IMAGE_SIDE = 100  # smaller images are logos and icons, not scanned text


@dataclass
class PdfRead:
    """What a PDF gave: blocks to chunk plus the page bookkeeping Document reports."""

    title: str
    pages: int
    blocks: list[Block]
    warnings: list[str] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)
    needs_ocr_pages: list[int] = field(default_factory=list)


def looks_like_glyph_codes(text: str) -> bool:
    """True when extracted text is glyph codes or symbol noise rather than words.

    Fonts without a Unicode map extract as "(cid:12)" tokens, control or private-use
    characters, or letters scattered over unrelated scripts. Real text in the scripts we
    expect (Latin, kana, common kanji, Greek, Cyrillic, Hangul) is mostly letters and digits;
    runs of one repeated character (contents leaders "……", rules "────") count once.
    """
    cids = len(_CID.findall(text))
    glyph_names = sum(len(m) for m in HEX_GLYPHS.findall(text))
    if glyph_names and glyph_names > 0.5 * len("".join(text.split())):
        return True  # mostly "/53/50/4C/…": a font's glyph names, not words
    chars = [ch for ch in _RUN.sub(r"\1", _CID.sub("", normalize(text))) if not ch.isspace()]
    total = len(chars) + cids
    if total == 0:
        return False
    # Private-use characters are also how symbol fonts' bullets extract, so they weigh less
    # than controls and (cid:N), which real text never contains.
    bad = cids + sum(1 for ch in chars if ch == "\ufffd" or unicodedata.category(ch) in _STRONG_JUNK)
    private = sum(1 for ch in chars if unicodedata.category(ch) == "Co")
    if bad >= 3 and bad > 0.1 * total or bad + private > 0.3 * total:
        return True
    wordy = sum(1 for ch in chars if _expected_letter(ch) or unicodedata.category(ch)[0] == "N")
    if total >= 20 and wordy < 0.5 * total:
        return True
    # Glyph numbers read as code points land in Latin-1 and Latin Extended: "ĀĂąĆ…". Real
    # European text is still mostly plain ASCII letters.
    latin = [ch for ch in chars if ch.isalpha() and (ord(ch) < 0x250 or 0x1E00 <= ord(ch) < 0x1F00)]
    return len(latin) >= 20 and sum(ch.isascii() for ch in latin) < 0.5 * len(latin)


def _expected_letter(ch: str) -> bool:
    if not unicodedata.category(ch).startswith("L"):
        return False
    cp = ord(ch)
    return (cp < 0x250 or 0x370 <= cp < 0x530 or 0x1E00 <= cp < 0x1F00  # Latin, Greek, Cyrillic
            or 0x3040 <= cp < 0x3100 or 0x31F0 <= cp < 0x3200  # kana
            or 0x4E00 <= cp < 0xA000 or 0xF900 <= cp < 0xFB00  # kanji (rare extension blocks excluded)
            or 0xAC00 <= cp < 0xD7B0 or 0xFF66 <= cp < 0xFFA0)  # Hangul, half-width kana


class _NameFilter(logging.Filter):
    """Prefix pypdf's own log lines ("EOF marker not found", ...) with the file they are about."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.file_name = name

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = f"{self.file_name}: {record.getMessage()}"
        record.args = ()
        return True


@contextmanager
def named_pypdf_log(name: str) -> Iterator[None]:
    """While reading `name`, pypdf's warnings name it (several manuals go in one batch).
    A logger's filter sees only its own records, so each of pypdf's module loggers gets one."""
    name_filter = _NameFilter(name)
    # pypdf logs through logging.getLogger(<its module>), made on first use: take them all now.
    loggers = [logging.getLogger(n) for n in list(sys.modules) if n.split(".")[0] == "pypdf"]
    for logger in loggers:
        logger.addFilter(name_filter)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(name_filter)


def read_pdf(data: bytes, ocr: bool | None = None,
             on_page: Callable[[int, int], None] | None = None) -> PdfRead:
    """Read a PDF's text page by page; raise Unreadable for damaged, encrypted or textless files.
    `on_page(done, count)` after each page: the bar of a 93-page manual moves meanwhile."""
    reader = _open(data)
    try:
        count = len(reader.pages)
    except Exception as exc:  # pypdf raises many types on a broken page tree
        raise Unreadable(f"damaged or truncated PDF ({exc}); download or export it again") from None
    if count == 0:
        raise Unreadable("the PDF has no pages")
    read = PdfRead(_title(reader), count, [])
    if b"%%EOF" not in data[-2048:]:
        read.warnings.append("the file does not end with %%EOF: it may be cut short; "
                             "compare the page count with the original")
    texts: dict[int, list[str]] = {}
    garbled: list[int] = []
    stripped: list[int] = []
    failed: dict[int, str] = {}
    for number, page in enumerate(reader.pages, start=1):
        try:
            raw = page.extract_text() or ""
        except DependencyError:
            raise Unreadable(_AES_MESSAGE) from None
        except Exception as exc:  # one broken content stream should not lose the whole manual
            failed[number] = str(exc) or type(exc).__name__
            continue
        finally:
            if on_page:
                on_page(number, count)
        if looks_like_glyph_codes(raw):
            garbled.append(number)
        else:
            if HEX_GLYPHS.search(raw):
                stripped.append(number)  # some glyph names among real text: dropped, and said
            texts[number] = normalize(raw).split("\n")
    texts = _strip_page_furniture(texts)
    empty = [n for n in range(1, count + 1) if n not in texts and n not in garbled and n not in failed]
    images = {n: _page_images(reader, n) for n in empty}
    blank = [n for n in empty if images[n] == []]
    _ocr_pages(data, reader, read, texts, images, garbled, ocr)
    if failed:
        first_error = next(iter(failed.values()))
        read.warnings.append(f"{page_label(sorted(failed))}: could not be read ({first_error}); not indexed")
    if stripped:
        read.warnings.append(f"{page_label(stripped)}: glyph-name codes (/53/50/4C/…) left out of "
                             "the text; the rest of the page is indexed")
    if blank:
        read.warnings.append(f"{page_label(blank)}: no text and no images (blank page, or text drawn as "
                             "outlines); not indexed")
    lines: list[Line] = []
    for number in range(1, count + 1):
        if number in texts:
            lines.extend((line, number) for line in texts[number])
        else:
            lines.append(("", None))  # a missing page breaks the paragraph
    read.blocks = lines_to_blocks(lines, typical_width(lines))
    if not read.blocks:
        raise Unreadable("no readable text: " + "; ".join(read.warnings or ["the PDF has no text"]))
    return read


_AES_MESSAGE = ("encrypted with AES, which this installation cannot open (needs the Python package "
                "'cryptography'): remove the password and upload again")


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
    except Exception as exc:  # PdfReadError, PdfStreamError, ValueError, ... for damaged files
        raise Unreadable(f"damaged or truncated PDF ({exc}); download or export it again") from None
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")  # an owner-only password restricts printing, not reading
        except DependencyError:
            raise Unreadable(_AES_MESSAGE) from None
        except Exception as exc:
            raise Unreadable(f"encrypted in a way that cannot be opened ({exc}): "
                             "remove the password and upload again") from None
        if opened == PasswordType.NOT_DECRYPTED:
            raise Unreadable("encrypted: remove the password and upload again")
    return reader


def _title(reader: PdfReader) -> str:
    try:
        title = tidy(reader.metadata.title or "") if reader.metadata else ""
    except (FileNotDecryptedError, DependencyError):
        raise Unreadable(_AES_MESSAGE) from None
    except Exception:  # a broken Info dictionary only costs the title
        return ""
    title = re.sub(r"^Microsoft (?:Word|PowerPoint|Excel) - ", "", title)
    return "" if title.lower() in ("untitled", "無題", "no title", "title") else title


def _strip_page_furniture(texts: dict[int, list[str]]) -> dict[int, list[str]]:
    """Drop page numbers and running headers/footers: repeated text would match every query."""
    edges: Counter[str] = Counter()
    for lines in texts.values():
        filled = [line for line in map(tidy, lines) if line]
        edges.update({_shape(line) for line in filled[:2] + filled[-2:]})
    repeated = {key for key, n in edges.items() if len(texts) >= 4 and n >= max(3, 0.5 * len(texts))}
    result: dict[int, list[str]] = {}
    for number, lines in texts.items():
        filled = [line for line in (tidy(line) for line in lines) if line]
        keep = [True] * len(filled)
        for i in {0, 1, len(filled) - 2, len(filled) - 1}:
            if not 0 <= i < len(filled) or heading_of(filled[i]):
                continue  # 第2章 on top of the page where chapter 2 starts is a heading, not a header
            if _shape(filled[i]) in repeated or (i in (0, len(filled) - 1) and _PAGE_NUMBER.match(filled[i])):
                keep[i] = False
        if any(keep):
            # keep blank lines: they mark paragraph breaks
            kept = iter(keep)
            result[number] = [line for line in lines if not tidy(line) or next(kept)]
    return result


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line)


def _page_images(reader: PdfReader, number: int) -> list[Image] | None:
    """Images on a page big enough to hold text (decoded by Pillow through pypdf); None when
    pypdf cannot decode them (JBIG2 without jbig2dec, broken streams): a renderer still can."""
    try:
        images = [item.image for item in reader.pages[number - 1].images]
    except Exception as exc:  # unsupported filters (JBIG2, ...) or broken streams
        log.info("page %d: images not readable: %s", number, exc)
        return None
    return [im for im in images if im is not None and min(im.size) >= _MIN_IMAGE_SIDE]


_GLYPHS = "text layer is unreadable (glyph codes)"
_UNDECODED = "its images could not be decoded"
_NEEDS_RENDERER = f"to OCR it, install the page renderer pdftoppm: {pdf_render.INSTALL_HINT}"


def _ocr_pages(data: bytes, reader: PdfReader, read: PdfRead, texts: dict[int, list[str]],
               images: dict[int, list[Image] | None], garbled: list[int], ocr: bool | None) -> None:
    """OCR scanned pages from their images, and garbled pages (or pages whose images pypdf
    cannot decode) from the page as pdftoppm draws it; record the pages left unread."""
    use = ocr is not False and tesseract.available()
    draw = use and pdf_render.available()
    missing: dict[tuple[str, str | None], list[int]] = {}  # (reason, its own hint) -> pages
    with ExitStack() as stack:
        renderer: Callable[[int], Path] | None = None
        for number in sorted([n for n, found in images.items() if found != []] + garbled):
            if number in garbled:  # its words are drawn with a font: render the page if we can
                reason, found = _GLYPHS, None if draw else _page_images(reader, number) if use else []
            else:
                found = images[number]
                reason = "no text layer" if found else _UNDECODED
            if not use or not found and not draw:
                missing.setdefault((reason, _NEEDS_RENDERER if use else None), []).append(number)
                continue
            try:
                if found is None:
                    renderer = renderer or stack.enter_context(pdf_render.page_renderer(data))
                    text = tesseract.ocr_file(renderer(number))
                else:
                    text = "\n\n".join(tesseract.ocr_image(image) for image in found)
            except (tesseract.OcrError, pdf_render.RenderError) as exc:
                missing.setdefault((f"OCR failed: {exc}", None), []).append(number)
                continue
            if not text.strip() or looks_like_glyph_codes(text):
                missing.setdefault(("OCR found no readable text", None), []).append(number)
                continue
            texts[number] = text.split("\n")
            read.ocr_pages.append(number)
    _report_ocr(read, missing, ocr)


def _report_ocr(read: PdfRead, missing: dict[tuple[str, str | None], list[int]], ocr: bool | None) -> None:
    if read.ocr_pages:
        note = "" if tesseract.has_japanese() else " without Japanese (install tesseract-ocr-jpn)"
        read.warnings.append(f"{page_label(read.ocr_pages)}: read by OCR{note}")
    if ocr is False:
        hint = "OCR is turned off"
    elif not tesseract.available():
        hint = f"needs OCR: {tesseract.INSTALL_HINT}"
    else:
        hint = "not indexed"
    for (reason, own_hint), numbers in missing.items():
        read.needs_ocr_pages.extend(numbers)
        read.warnings.append(f"{page_label(numbers)}: {reason} ({own_hint or hint})")
    read.needs_ocr_pages.sort()


def page_label(numbers: list[int]) -> str:
    """'page 3', 'pages 3, 5', 'pages 2-4, 7'."""
    numbers = sorted(set(numbers))
    ranges: list[list[int]] = []
    for n in numbers:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
    return f"page {text}" if len(numbers) == 1 else f"pages {text}"
