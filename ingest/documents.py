"""Manuals (PDF, Word, Markdown, text, HTML) as passages with page numbers and heading paths.

`read_document` is the one entry point: it checks the bytes really are the format the
name claims, reads them into blocks (ingest.pdf, ingest.docx, ingest.markup), and cuts
the blocks into passages of at most ~400 characters that never cross a heading, break at
paragraph and sentence ends (。！？ included), and keep the pages they came from.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunking import DEFAULT_MAX_CHARS, split_sentences
from ingest.errors import IngestError
from ingest.markup import Block, Unreadable, joiner
from ingest.sandbox import capped
from ingest.text_formats import read_html, read_markdown, read_txt

log = logging.getLogger(__name__)

DOCUMENT_SUFFIXES = (".pdf", ".docx", ".md", ".markdown", ".txt", ".html", ".htm")
_FILE_TYPES = {".pdf": "pdf", ".docx": "docx", ".md": "md", ".markdown": "md", ".txt": "txt",
               ".html": "html", ".htm": "html"}
_LEDGER_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xlsm", ".xls", ".json", ".jsonl")


class DocumentError(IngestError):
    """A manual cannot be read at all; the message names the file, the problem and the fix."""


@dataclass(frozen=True, slots=True)
class Passage:
    """A searchable piece of a manual and where it is: pages and the headings above it."""

    text: str
    page_start: int | None
    page_end: int | None
    heading_path: tuple[str, ...]


@dataclass
class Document:
    """A manual as read: its passages and what could not be read (pages needing OCR)."""

    name: str
    title: str
    file_type: str
    sha256: str
    pages: int | None
    passages: list[Passage]
    warnings: list[str] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)
    needs_ocr_pages: list[int] = field(default_factory=list)


def read_document(path: Path, data: bytes | None = None, name: str | None = None,
                  ocr: bool | None = None, on_page: Callable[[int, int], None] | None = None,
                  max_memory: int | None = None) -> Document:
    """Read a manual from `path`, or from uploaded `data` called `name`.

    ocr: None uses Tesseract for scanned pages when it is installed, False never does.
    on_page(done, pages): after each page of a PDF is read (progress of a long manual).
    max_memory: bytes a Word file may take while parsed, in a child (ingest/sandbox.py).
    Raises DocumentError when nothing can be read; it names `name`, or else the full path.
    """
    label = name or str(path)  # errors name the upload, or the path the CLI was given
    name = name or Path(path).name
    suffix = Path(name).suffix.lower()
    if suffix not in _FILE_TYPES:
        raise DocumentError(label, _unsupported(suffix))
    if data is None:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise DocumentError(label, "file not found") from None
        except OSError as exc:
            raise DocumentError(label, f"cannot open the file ({exc.strerror or exc})") from None
    if not data:
        raise DocumentError(label, "the file is empty (0 bytes): upload it again")
    file_type = _FILE_TYPES[suffix]
    mismatch = _check_kind(file_type, _sniff(data))
    if mismatch:
        raise DocumentError(label, mismatch)
    document = Document(name, Path(name).stem, file_type, hashlib.sha256(data).hexdigest(), None, [])
    try:
        title, blocks = _read_blocks(document, data, ocr, on_page, (label, max_memory))
    except Unreadable as exc:
        raise DocumentError(label, str(exc)) from None
    except (RecursionError, MemoryError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        # parser libraries fail on hostile or odd files in ways no one lists; one such
        # file must not stop a batch, and the log keeps the trace for a bug report
        log.exception("reading %s failed", label)
        raise DocumentError(label, f"could not be read ({type(exc).__name__}: {exc}); "
                                   "the file may be damaged: export or save it again") from None
    document.passages = build_passages(blocks)
    if not document.passages:
        raise DocumentError(label, "no text found in the file")
    first_heading = next((b.text for b in blocks if b.level is not None), "")
    document.title = title or first_heading or document.title
    return document


def _read_blocks(document: Document, data: bytes, ocr: bool | None,
                 on_page: Callable[[int, int], None] | None,
                 cap: tuple[str, int | None]) -> tuple[str, list[Block]]:
    if document.file_type == "pdf":
        from ingest.pdf import named_pypdf_log, read_pdf

        with named_pypdf_log(document.name):
            read = read_pdf(data, ocr, on_page)
        document.pages = read.pages
        document.warnings.extend(read.warnings)
        document.ocr_pages = read.ocr_pages
        document.needs_ocr_pages = read.needs_ocr_pages
        return read.title, read.blocks
    if document.file_type == "docx":  # a zip of XML: parsed under the memory cap
        from ingest.docx import read_docx

        return capped(*cap, read_docx, data)
    reader = {"md": read_markdown, "html": read_html, "txt": read_txt}[document.file_type]
    return reader(data)


def _unsupported(suffix: str) -> str:
    if suffix == ".doc":
        return "old Word .doc files are not supported: open it in Word and save as .docx (or PDF)"
    if suffix in _LEDGER_SUFFIXES:
        return f"'{suffix}' is a case ledger type: import it as a ledger, not as a manual"
    shown = suffix or "(no extension)"
    return f"unsupported document type '{shown}' (use {', '.join(DOCUMENT_SUFFIXES)})"


def _sniff(data: bytes) -> str:
    """What the bytes are, by their magic number, whatever the name says."""
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")):
        return "image"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"  # UTF-16 with a byte-order mark
    controls = sum(1 for byte in head if byte < 9 or 13 < byte < 32)
    return "binary" if controls > len(head) // 20 else "text"


_KIND_NAMES = {"pdf": "a PDF", "zip": "a ZIP archive (an Office file?)",
               "ole": "an old Office file (.doc/.xls)", "image": "an image",
               "rtf": "an RTF document", "text": "plain text",
               "binary": "binary data of an unknown kind"}
_FIXES = {"pdf": "rename it to .pdf", "ole": "open it in Word and save as .docx",
          "image": "put the image in a PDF (a scan) and upload that",
          "rtf": "open it in Word and save as .docx",
          "text": "rename it to .txt", "zip": "if it is a Word document, rename it to .docx",
          "binary": "the file may be damaged; download or export it again"}


def _check_kind(file_type: str, kind: str) -> str:
    """'' when the bytes fit the extension, else what they really are and what to do."""
    expected = {"pdf": "pdf", "docx": "zip"}.get(file_type, "text")
    if kind == expected:
        return ""
    label = {"pdf": "PDF", "docx": "Word .docx"}.get(file_type, "text")
    return f"the name says {label} but the file is {_KIND_NAMES[kind]}: {_FIXES[kind]}"


def build_passages(blocks: list[Block], max_chars: int = DEFAULT_MAX_CHARS) -> list[Passage]:
    """Cut blocks into passages under their heading path.

    A heading closes the passage before it. A heading with no text of its own (a
    contents line, a one-line list item that looked like a heading) becomes text of the
    section above it rather than disappearing.
    """
    passages: list[Passage] = []
    stack: list[tuple[int, str, Block, bool]] = []  # (level, text, block, has content)
    pending: list[Block] = []
    pending_path: tuple[str, ...] = ()

    def add_body(block: Block) -> None:
        nonlocal pending_path
        path = tuple(text for _, text, _, _ in stack)
        if pending and path != pending_path:
            passages.extend(_pack(pending, pending_path, max_chars))
            pending.clear()
        pending_path = path
        pending.append(block)
        stack[:] = [(level, text, b, True) for level, text, b, _ in stack]

    def pop_to(level: int) -> None:
        while stack and stack[-1][0] >= level:
            _, text, block, used = stack.pop()
            if not used:
                add_body(Block(text, None, block.pages))

    for block in blocks:
        if block.level is None:
            add_body(block)
        else:
            pop_to(block.level)
            stack.append((block.level, block.text, block, False))
    pop_to(-1)
    passages.extend(_pack(pending, pending_path, max_chars))
    return passages


@dataclass(frozen=True)
class _Unit:
    """A sentence (or a cut piece of a long one) with its pages."""

    text: str
    first: int | None
    last: int | None
    new_paragraph: bool


def _units(block: Block, max_chars: int) -> list[_Unit]:
    units: list[_Unit] = []
    cursor = 0
    for sentence in split_sentences(block.text):
        start = block.text.find(sentence, cursor)
        cursor = start + len(sentence)
        for offset, piece in _cut(sentence, max_chars):
            at = start + offset
            units.append(_Unit(piece, block.page_at(at), block.page_at(at + len(piece) - 1), not units))
    return units


def _cut(sentence: str, max_chars: int) -> list[tuple[int, str]]:
    """A sentence longer than a passage, cut at a comma or space near the limit where there is one."""
    pieces: list[tuple[int, str]] = []
    offset = 0
    while len(sentence) - offset > max_chars:
        window = sentence[offset:offset + max_chars]
        cut = max(window.rfind(c) for c in ("、", ",", " ", "，"))
        cut = cut + 1 if cut >= max_chars * 2 // 3 else max_chars
        pieces.append((offset, sentence[offset:offset + cut].strip()))
        offset += cut
    pieces.append((offset, sentence[offset:].strip()))
    return [(o, p) for o, p in pieces if p]


def _pack(blocks: list[Block], path: tuple[str, ...], max_chars: int) -> list[Passage]:
    """Greedily fill passages with whole sentences; paragraphs are separated by a newline."""
    passages: list[Passage] = []
    text, first, last = "", None, None
    for block in blocks:
        for unit in _units(block, max_chars):
            sep = "\n" if unit.new_paragraph else joiner(text, unit.text)
            if text and len(text) + len(sep) + len(unit.text) > max_chars:
                passages.append(Passage(text, first, last, path))
                text, first, last = "", None, None
            if not text:
                text, first = unit.text, unit.first
            else:
                text += sep + unit.text
            last = unit.last if unit.last is not None else last
            first = first if first is not None else unit.first
    if text:
        passages.append(Passage(text, first, last, path))
    return passages


__all__ = ["DOCUMENT_SUFFIXES", "Document", "DocumentError", "Passage", "build_passages", "read_document"]
