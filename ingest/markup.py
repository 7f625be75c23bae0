"""Text blocks shared by all document readers, and the line heuristics that find them.

Every reader turns its format into a flat list of `Block`s (headings with a level, body
paragraphs with the pages they came from); `ingest.documents` turns blocks into passages.
PDF pages, OCR output and plain text arrive as lines, so they share `lines_to_blocks`,
which finds headings (第N章/第N条, "1.", "1.1", "(1)", 【…】) and paragraph breaks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.radicals import fold_radicals

Line = tuple[str, int | None]  # (text, 1-based page or None); "" marks a paragraph break


class Unreadable(ValueError):
    """The bytes cannot be read as the format; read_document adds the file name."""


@dataclass(frozen=True, slots=True)
class Block:
    """A heading (level set, lower = more important) or a body paragraph.

    `pages` holds (character offset, page) pairs where the page changes, so that a
    paragraph running over a page break still knows which page each sentence is on.
    """

    text: str
    level: int | None = None
    pages: tuple[tuple[int, int], ...] = ()

    def page_at(self, offset: int) -> int | None:
        """Page of the character at `offset`; None for formats without pages."""
        page = None
        for start, number in self.pages:
            if start > offset:
                break
            page = number
        return page


# ---------------------------------------------------------------- text tidying

_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_CID = re.compile(r"\(cid:\d+\)")
_CJK_CLASS = r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]"
# HTML source wrapped inside a Japanese sentence: browsers show no space there
CJK_BREAK = re.compile(rf"(?<={_CJK_CLASS})\s*\n\s*(?={_CJK_CLASS})")
_JUNK = ("Cc", "Co", "Cn", "Cs")  # controls, private use, unassigned, lone surrogates
_LEADER = re.compile(r"(?:\. ?){4,}|・{4,}")  # contents leaders "総則……10" (… is ... after NFKC)


def normalize(text: str) -> str:
    """NFKC: full-width digits and letters to ASCII, half-width kana to full, ⽇ (U+2F47) to 日;
    radical forms NFKC keeps (⺠, ⻑) become their kanji too (ingest/radicals.py)."""
    return fold_radicals(unicodedata.normalize("NFKC", text))


def is_cjk(ch: str) -> bool:
    """Kana, kanji, CJK punctuation: scripts written without spaces between words."""
    return ord(ch) > 0x2E7F


# Glyph names a font wrote instead of text: "/53/50/4C/49/54/20" (hex codes of S P L I T ␠).
HEX_GLYPHS = re.compile(r"(?:/[0-9A-Fa-f]{2}){3,}")


def strip_junk(text: str) -> str:
    """Drop what no one can search for: (cid:N) codes, hex glyph names, controls, private-use
    and unassigned characters, wherever they stand on a page."""
    text = HEX_GLYPHS.sub("", _CID.sub("", text))
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in _JUNK)


def tidy(line: str) -> str:
    """One line, NFKC-normalised, junk dropped, runs of spaces collapsed, ends stripped."""
    return _SPACES.sub(" ", _LEADER.sub("...", strip_junk(normalize(line)))).strip()


def join_parts(parts: Sequence[str]) -> str:
    """Join wrapped lines: no space next to a CJK character, one space between other words."""
    text = ""
    for part in parts:
        text += joiner(text, part) + part if text else part
    return text


def joiner(left: str, right: str) -> str:
    """What goes between two pieces of running text: Japanese puts no space even around 第 / 1項."""
    if not left or not right or is_cjk(left[-1]) or is_cjk(right[0]):
        return ""
    return " "


# ---------------------------------------------------------------- headings in plain lines

_NUM = r"[0-9一二三四五六七八九十百千〇零]+"
# "第1章 総則" or "第1章総則", but not "第3章の規定により" (a reference in running text)
_DIVISION = re.compile(rf"^第\s*({_NUM})\s*(編|章|節|款)(?![のにでをはがとへや及又、。,)」])\s*(.*)$")
_DIVISION_LEVEL = {"編": 0, "章": 1, "節": 2, "款": 3}
_ARTICLE = re.compile(rf"^第\s*({_NUM})\s*条(?:\s*の\s*({_NUM}))?(?=\s|$|\()\s*(\([^()]{{1,40}}\))?\s*(.*)$")
_ARTICLE_LEVEL = 4
_CAPTION = re.compile(r"^\(\s*([^()]{1,40}?)\s*\)$")  # "(年次有給休暇)" on the line above 第23条
_BRACKETED = re.compile(r"^【\s*([^【】]{1,40}?)\s*】$")
_DOTTED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})(?:\.\s*|\s+)(\D.*)$")
_PAREN = re.compile(r"^\((\d{1,2})\)\s*(\D.*)$")
_ENGLISH = re.compile(r"^(part|chapter|section|article)\s+(\d+|[ivxlc]+)\b[.:]?\s*(.*)$", re.IGNORECASE)
_ENGLISH_LEVEL = {"part": 0, "chapter": 1, "section": 2, "article": 4}
_TOC_LEADER = re.compile(r"(\.{3,}|・{3,}|‥+|-{4,}|_{4,})\s*\d+$")  # "総則.....10": a contents line
_CONTENTS = re.compile(r"^(目\s*次|contents|table of contents)$", re.IGNORECASE)
_SENTENCE_END = ("。", "!", "?")  # after NFKC: ！ and ？ are ASCII by now
_ITEM_START = re.compile(  # list items and numbered clauses (項) start a new paragraph
    r"^(\d{1,3}(?:\s|\.\s?|\))|\(\d{1,3}\)|[・•●○■□◆◇▪※]|[-*]\s|\([ア-ンa-z]\)|[ア-ン][.\s])")
_NUMBERED = re.compile(r"^(\d{1,2}) (\D\S{3,})$")  # "1 就業規則の意義" standing alone between blank lines
SHORT_HEADING = 30  # a numbered line longer than this is a list item or a sentence


def heading_of(line: str, wrap_width: int | None = None,
               isolated: bool = False) -> tuple[int, str, bool] | None:
    """(level, heading text, keep the line as body too) when a tidied line looks like a heading.

    第N編/章/節/款 and 【…】 lines are headings; 第N条 starts an article (the line is also body
    text, since the article's first sentence follows on it); numbered lines ("1.", "1.2",
    "(1)") only when short, not sentences, and not as wide as a full wrapped line; "1 題名"
    without a dot only when `isolated` (blank lines around it), as it is also how clauses
    (項) and table cells start.
    """
    if not line or _TOC_LEADER.search(line):
        return None
    if _CONTENTS.match(line):
        return 1, line, False  # at chapter level, so that the first chapter closes it
    if m := _DIVISION.match(line):
        rest = m.group(3)
        if len(rest) <= SHORT_HEADING and not rest.endswith(_SENTENCE_END) and "。" not in rest:
            title = f"第{m.group(1)}{m.group(2)}" + (f" {rest}" if rest else "")
            return _DIVISION_LEVEL[m.group(2)], title, False
        return None
    if m := _ARTICLE.match(line):
        number = f"第{m.group(1)}条" + (f"の{m.group(2)}" if m.group(2) else "")
        caption = re.sub(r"\s+", "", m.group(3) or "")
        return _ARTICLE_LEVEL, number + caption, bool(m.group(4))
    if m := _BRACKETED.match(line):
        inner = m.group(1)
        return (_ARTICLE_LEVEL if _ARTICLE.match(inner) else _ARTICLE_LEVEL + 1), f"【{inner}】", False
    if m := _ENGLISH.match(line):
        rest = m.group(3)
        if len(rest) <= 60 and not rest.endswith((".", ",", ";")):
            return _ENGLISH_LEVEL[m.group(1).lower()], line, False
        return None
    for pattern, base in ((_DOTTED, 6), (_PAREN, 10)):
        if (m := pattern.match(line)) and _short_title(m.group(2), line, wrap_width):
            depth = m.group(1).count(".") if base == 6 else 0
            if base == 6 and depth == 0 and not re.match(r"^\d{1,2}\.", line):
                break  # "2 前項の…" is a numbered clause (項), not a heading
            return base + depth, line, False
    if isolated and (m := _NUMBERED.match(line)) and _short_title(m.group(2), line, wrap_width):
        return 6, line, False
    return None


def _short_title(rest: str, line: str, wrap_width: int | None) -> bool:
    if len(rest) > SHORT_HEADING or "。" in rest or rest.endswith((".", ",", "、", ":", ";", "-")):
        return False
    return wrap_width is None or text_width(line) < 0.8 * wrap_width


def text_width(text: str) -> int:
    """Printed width in half-width cells: CJK counts two, so lines in any script compare."""
    return sum(2 if is_cjk(ch) else 1 for ch in text)


def typical_width(lines: Sequence[Line]) -> int | None:
    """Width of a full wrapped line (90th percentile), to tell a short heading from a wrapped sentence."""
    widths = sorted(text_width(t) for t, _ in lines if t.strip())
    if len(widths) < 10:
        return None
    return widths[int(len(widths) * 0.9)]


def lines_to_blocks(lines: Sequence[Line], wrap_width: int | None = None,
                    level_offset: int = 0) -> list[Block]:
    """Group lines into headings and paragraphs; wrapped lines of one paragraph are joined.

    A paragraph ends at a blank line, a heading, a line starting like a list item or
    numbered clause, or after a line ending in 。!?. A caption line "(年次有給休暇)" right
    above "第23条 …" becomes part of the article heading: 第23条(年次有給休暇).
    """
    lines = [(tidy(text), page) for text, page in lines]
    contents = _contents_pages(lines)
    captioned = _articles_are_captioned(lines)
    blocks: list[Block] = []
    parts: list[Line] = []

    def flush() -> None:
        if parts:
            blocks.append(_paragraph(parts))
            parts.clear()

    caption = ""
    for i, (text, page) in enumerate(lines):
        if not text:
            flush()
            continue
        if page is not None and page in contents and not _CONTENTS.match(text):
            # one entry per line; the 第N条 listed there are not headings
            flush()
            parts.append((text, page))
            flush()
            continue
        if (m := _CAPTION.match(text)) and _next_is_article(lines, i):
            flush()
            caption = f"({m.group(1)})"
            continue
        found = heading_of(text, wrap_width, _isolated(lines, i))
        if found and found[0] == _ARTICLE_LEVEL and captioned and not caption and "(" not in found[1]:
            found = None  # "第38条 労働時間は…" quoted in a commentary, not an article of this document
        if found:
            level, title, keep = found
            if caption and level == _ARTICLE_LEVEL and "(" not in title:
                title += caption
            caption = ""
            flush()
            blocks.append(Block(title, level + level_offset, ((0, page),) if page else ()))
            if keep:
                parts.append((text, page))
            continue
        if caption:  # a caption whose article did not follow: plain text after all
            parts.append((caption, page))
            caption = ""
        if parts and (_ITEM_START.match(text) or _ends_paragraph(parts[-1][0], text)):
            flush()
        parts.append((text, page))
    flush()
    return blocks


def _ends_paragraph(line: str, following: str) -> bool:
    """A line ending a sentence at the edge of the text block usually ends its paragraph."""
    if line.endswith(_SENTENCE_END):
        return True
    return line.endswith(".") and (following[:1].isupper() or is_cjk(following[:1] or "a"))


def _next_is_article(lines: Sequence[Line], i: int) -> bool:
    for text, _ in lines[i + 1 : i + 3]:
        if text:
            return bool(_ARTICLE.match(text))
    return False


def _isolated(lines: Sequence[Line], i: int) -> bool:
    """Blank lines (or the start/end of the text) on both sides."""
    before = i == 0 or not lines[i - 1][0]
    return before and (i + 1 == len(lines) or not lines[i + 1][0])


def _contents_pages(lines: Sequence[Line]) -> set[int]:
    """Pages of a table of contents: three or more "title ..... 12" lines, or one on the page after."""
    counts: dict[int, int] = {}
    for text, page in lines:
        if page is not None and _TOC_LEADER.search(text):
            counts[page] = counts.get(page, 0) + 1
    pages: set[int] = set()
    for page in sorted(counts):
        if counts[page] >= 3 or page - 1 in pages:
            pages.add(page)
    return pages


def _articles_are_captioned(lines: Sequence[Line]) -> bool:
    """Whether this document's articles carry captions, 第1条(目的), as regulations' usually do.

    Then an uncaptioned "第38条 …" line is a statute quoted in the text, not an article.
    """
    total = with_caption = 0
    previous = ""
    for text, _ in lines:
        if not text:
            continue
        if m := _ARTICLE.match(text):
            total += 1
            with_caption += bool(m.group(3)) or bool(_CAPTION.match(previous))
        previous = text
    return total >= 3 and with_caption >= 0.8 * total


def _paragraph(parts: Sequence[Line]) -> Block:
    text = ""
    pages: list[tuple[int, int]] = []
    for part, page in parts:
        if text.endswith("-") and len(text) > 1 and text[-2].isalpha() and part[:1].islower():
            text = text[:-1]  # "infor-" + "mation": a hyphen added by line wrapping
            sep = ""
        else:
            sep = joiner(text, part)
        if page is not None and (not pages or pages[-1][1] != page):
            pages.append((len(text) + len(sep) if text else 0, page))
        text += sep + part
    return Block(text, None, tuple(pages))


def paragraph_blocks(paragraphs: Sequence[str], level_offset: int = 0) -> list[Block]:
    """Whole paragraphs (DOCX, HTML, Markdown without headings) run through the line heuristics."""
    lines: list[Line] = []
    for paragraph in paragraphs:
        lines.append((join_parts([tidy(p) for p in paragraph.split("\n") if p.strip()]), None))
        lines.append(("", None))
    return lines_to_blocks(lines, None, level_offset)
