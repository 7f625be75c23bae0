"""Readers of plain-text formats: TXT, Markdown and HTML, each into `Block`s (ingest/markup.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html.parser import HTMLParser

from ingest.errors import IngestError
from ingest.markup import (
    CJK_BREAK,
    Block,
    Line,
    Unreadable,
    join_parts,
    lines_to_blocks,
    paragraph_blocks,
    tidy,
    typical_width,
)
from ingest.tables import decode_bytes


def decode(data: bytes) -> str:
    """Text bytes in UTF-8/16 or the CP932 and EUC-JP of Japanese office files."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Unreadable("this is a binary file, not text (check the file type)")
    try:
        text, _ = decode_bytes(data, "")
    except IngestError as exc:
        raise Unreadable(exc.message) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_txt(data: bytes) -> tuple[str, list[Block]]:
    """Plain text: blank-line paragraphs, headings by the same heuristics as PDF lines."""
    lines: list[Line] = [(line, None) for line in decode(data).split("\n")]
    blocks = lines_to_blocks(lines, typical_width(lines))
    return "", blocks


_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_MD_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_MD_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_MD_ITEM = re.compile(r"^\s*(?:[-*+]\s+|(\d{1,3}[.)])\s+)")
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_MD_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: keep the alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: keep the link text
    (re.compile(r"<(https?://[^>]+)>"), r"\1"),
    (re.compile(r"<[^>\n]+>"), " "),  # inline HTML tags
    (re.compile(r"`([^`]*)`"), r"\1"),
    (re.compile(r"(\*\*|__)(\S.*?\S|\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(\S.*?\S|\S)\*(?!\w)"), r"\1"),
]


def _md_inline(text: str) -> str:
    for pattern, repl in _MD_INLINE:
        text = pattern.sub(repl, text)
    return text


def read_markdown(data: bytes) -> tuple[str, list[Block]]:
    """Markdown: # and underlined headings, paragraphs, list items and table rows; markup removed."""
    lines = decode(data).split("\n")
    title = ""
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), 0)
        for meta in lines[1:end]:
            if meta.lower().startswith("title:"):
                title = tidy(meta.split(":", 1)[1]).strip("'\"")
        lines = lines[end + 1 :]
    items: list[tuple[int | None, str]] = []  # (heading level or None, paragraph text)
    parts: list[str] = []
    fence = ""

    def flush() -> None:
        if parts:
            items.append((None, join_parts([tidy(_md_inline(p)) for p in parts])))
            parts.clear()

    for raw in lines:
        if fence:
            if raw.strip().startswith(fence):
                fence = ""
                flush()
            elif raw.strip():
                parts.append(raw)
            continue
        if m := _MD_FENCE.match(raw):
            flush()
            fence = m.group(1)
            continue
        if m := _MD_HEADING.match(raw):
            flush()
            items.append((len(m.group(1)), tidy(_md_inline(m.group(2)))))
            continue
        if (m := _MD_SETEXT.match(raw)) and len(parts) == 1:
            items.append((1 if m.group(1)[0] == "=" else 2, tidy(_md_inline(parts.pop()))))
            continue
        stripped = raw.strip().lstrip(">").strip()
        if not stripped or _MD_SETEXT.match(raw) or _MD_TABLE_RULE.match(raw):
            flush()
            continue
        if stripped.startswith("|"):
            flush()
            cells = [tidy(_md_inline(c)) for c in stripped.strip("|").split("|")]
            items.append((None, " | ".join(c for c in cells if c)))
            continue
        if m := _MD_ITEM.match(stripped):
            flush()
            stripped = (m.group(1) + " " if m.group(1) else "") + stripped[m.end():]
        parts.append(stripped)
    flush()
    return title, _structured_blocks(items)


def _structured_blocks(items: Sequence[tuple[int | None, str]]) -> list[Block]:
    """Blocks from a format with marked headings; with none marked, fall back to line heuristics."""
    if not any(level is not None for level, _ in items):
        return paragraph_blocks([text for _, text in items])
    return [Block(text, level) for level, text in items if text]


_HTML_BLOCK = {"p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "li", "ul",
               "ol", "dl", "dt", "dd", "table", "tr", "blockquote", "pre", "figure", "figcaption", "form",
               "br", "hr", "address", "caption", "details", "summary", "body", "thead", "tbody"}
_HTML_SKIP = {"script", "style", "noscript", "template", "svg", "iframe", "object", "button", "select"}
_HTML_HEADING = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


class _HtmlText(HTMLParser):
    """Collects (heading level or None, text) items in document order; scripts and styles dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[int | None, str]] = []
        self.title = ""
        self._buffer: list[str] = []
        self._skip = 0
        self._in_title = False
        self._heading: int | None = None
        self._cells = 0  # cells seen in the current table row
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _HTML_SKIP:
            self._skip += 1
        elif tag in _HTML_HEADING:
            self._flush()
            self._heading = _HTML_HEADING[tag]
        elif tag in ("td", "th"):
            if self._cells:
                self._buffer.append(" | ")
            self._cells += 1
        elif tag in _HTML_BLOCK and not self._cells:
            self._flush()
            self._pre += tag == "pre"
        elif tag == "img" and (alt := dict(attrs).get("alt")):
            self._buffer.append(f" {alt} ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr", "img"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _HTML_SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _HTML_HEADING:
            self._flush()
        elif tag == "tr":
            self._cells = 0
            self._flush()
        elif tag in _HTML_BLOCK and not self._cells:
            self._flush()
            self._pre -= tag == "pre" and self._pre > 0

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._buffer.append(data if self._pre else CJK_BREAK.sub("", data))

    def _flush(self) -> None:
        text = "".join(self._buffer)
        self._buffer.clear()
        if self._pre:
            lines = [tidy(line) for line in text.split("\n")]
            text = " ".join(line for line in lines if line)
        else:
            text = tidy(text.replace("\n", " "))
        if text:
            self.items.append((self._heading, text))
        self._heading = None

    def close(self) -> None:
        super().close()
        self._flush()


def read_html(data: bytes) -> tuple[str, list[Block]]:
    """HTML: h1–h6 headings, block elements as paragraphs, table rows as 'a | b' lines."""
    parser = _HtmlText()
    parser.feed(decode(data))
    parser.close()
    return tidy(parser.title), _structured_blocks(parser.items)
