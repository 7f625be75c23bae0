"""Read Word .docx files with the standard library: paragraphs, heading styles, tables as rows.

A .docx is a ZIP holding word/document.xml; headings are paragraphs whose style is
"heading N" (shown as 見出し N in Japanese Word) or has an outline level, which styles.xml
resolves through style inheritance. Japanese regulations often type 第N条 without a
heading style, so unstyled paragraphs also go through the line heuristics.
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree import ElementTree as ET

from ingest.archives import zip_problem
from ingest.markup import Block, Unreadable, join_parts, paragraph_blocks, tidy

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_HEADING_NAME = re.compile(r"^(?:heading|見出し)\s*(\d)$", re.IGNORECASE)
_MAX_XML_BYTES = 200 * 1024 * 1024  # refuse zip bombs before inflating them
_CONTAINERS = {f"{_W}{tag}" for tag in ("tbl", "tr", "tc", "sdt", "sdtContent", "customXml")}
_HEURISTIC_OFFSET = 10  # 第N条 found by heuristics nests below any styled heading


def read_docx(data: bytes) -> tuple[str, list[Block]]:
    """(title from document properties, blocks) of a .docx file."""
    if problem := zip_problem(io.BytesIO(data)):
        raise Unreadable(problem)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Unreadable("damaged or truncated Word file (not a valid ZIP container); "
                         "save it again from Word") from None
    with archive:
        names = set(archive.namelist())
        if "word/document.xml" not in names:
            raise Unreadable("not a Word document (no word/document.xml inside; is it another Office "
                             "file renamed to .docx?)")
        body = _xml(archive, "word/document.xml").find(f"{_W}body")
        levels = _heading_levels(_xml(archive, "word/styles.xml")) if "word/styles.xml" in names else {}
        title = ""
        if "docProps/core.xml" in names:
            node = _xml(archive, "docProps/core.xml").find(_DC_TITLE)
            title = tidy(node.text or "") if node is not None else ""
    if body is None:
        return title, []
    items: list[tuple[int | None, str]] = []
    _walk(body, levels, items)
    return title, _blocks(items)


def _xml(archive: zipfile.ZipFile, name: str) -> ET.Element:
    try:
        if archive.getinfo(name).file_size > _MAX_XML_BYTES:
            raise Unreadable(f"{name} inside the file is larger than {_MAX_XML_BYTES >> 20} MB")
        return ET.fromstring(archive.read(name))
    except (zipfile.BadZipFile, ET.ParseError, EOFError, OSError) as exc:
        raise Unreadable(f"damaged Word file ({name}: {exc}); save it again from Word") from None


def _heading_levels(styles: ET.Element) -> dict[str, int]:
    """styleId -> heading level (0 for Title), following basedOn for custom heading styles."""
    info: dict[str, tuple[str, str | None, int | None]] = {}
    for style in styles.iter(f"{_W}style"):
        style_id = style.get(f"{_W}styleId") or ""
        name_node = style.find(f"{_W}name")
        based = style.find(f"{_W}basedOn")
        outline = style.find(f"{_W}pPr/{_W}outlineLvl")
        info[style_id] = (
            tidy(name_node.get(f"{_W}val") or "") if name_node is not None else "",
            based.get(f"{_W}val") if based is not None else None,
            _outline(outline),
        )
    levels: dict[str, int] = {}
    for style_id in info:
        current: str | None = style_id
        for _ in range(10):  # basedOn chains are short; a cycle must not hang us
            if current not in info:
                break
            name, based, outline = info[current]
            if m := _HEADING_NAME.match(name):
                levels[style_id] = int(m.group(1))
                break
            if name.lower() == "title":
                levels[style_id] = 0
                break
            if outline is not None and outline < 9:
                levels[style_id] = outline + 1
                break
            current = based
    return levels


def _walk(parent: ET.Element, levels: dict[str, int], items: list[tuple[int | None, str]]) -> None:
    for child in parent:
        if child.tag == f"{_W}p":
            text = _paragraph_text(child)
            if text.strip():
                items.append((_paragraph_level(child, levels), text))
        elif child.tag == f"{_W}tbl":
            for row in _rows(child):
                cells = [tidy(_cell_text(cell)) for cell in row]
                if any(cells):
                    items.append((None, " | ".join(c for c in cells if c)))
        elif child.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"):
            _walk(child, levels, items)


def _rows(table: ET.Element) -> list[list[ET.Element]]:
    """Rows and their cells; a table nested in a cell is read as part of that cell's text."""
    return [list(_children(row, f"{_W}tc")) for row in _children(table, f"{_W}tr")]


def _children(node: ET.Element, tag: str) -> list[ET.Element]:
    """Direct children with `tag`, looking through content-control and custom-XML wrappers."""
    found: list[ET.Element] = []
    for child in node:
        if child.tag == tag:
            found.append(child)
        elif child.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"):
            found.extend(_children(child, tag))
    return found


def _cell_text(cell: ET.Element) -> str:
    return " ".join(t for t in map(_paragraph_text, _cell_paragraphs(cell)) if t.strip())


def _cell_paragraphs(node: ET.Element) -> list[ET.Element]:
    """A cell's paragraphs, those of tables nested in it included, text-box paragraphs not (they
    are read as part of the paragraph holding the text box)."""
    found: list[ET.Element] = []
    for child in node:
        if child.tag == f"{_W}p":
            found.append(child)
        elif child.tag in _CONTAINERS:
            found.extend(_cell_paragraphs(child))
    return found


def _paragraph_text(paragraph: ET.Element) -> str:
    """Visible text of a paragraph: w:t runs, tabs and breaks; deleted text and field codes excluded."""
    out: list[str] = []

    def visit(node: ET.Element) -> None:
        for child in node:
            tag = child.tag
            if tag == _MC_FALLBACK:
                continue  # the fallback repeats the text box content of mc:Choice
            if tag == f"{_W}t":
                out.append(child.text or "")
            elif tag == f"{_W}tab":
                out.append(" ")
            elif tag in (f"{_W}br", f"{_W}cr"):
                out.append("\n")
            elif tag == f"{_W}noBreakHyphen":
                out.append("-")
            elif tag == f"{_W}p":  # a paragraph inside a text box
                out.append("\n")
                visit(child)
            else:
                visit(child)

    visit(paragraph)
    return "".join(out)


def _paragraph_level(paragraph: ET.Element, levels: dict[str, int]) -> int | None:
    value = _outline(paragraph.find(f"{_W}pPr/{_W}outlineLvl"))
    if value is not None and value < 9:
        return value + 1
    style = paragraph.find(f"{_W}pPr/{_W}pStyle")
    return levels.get(style.get(f"{_W}val") or "") if style is not None else None


def _outline(node: ET.Element | None) -> int | None:
    """w:outlineLvl as a number (0 = top; 9 = body text); None when absent or malformed."""
    value = node.get(f"{_W}val") if node is not None else None
    return int(value) if value is not None and value.isdigit() else None


def _blocks(items: list[tuple[int | None, str]]) -> list[Block]:
    """Styled headings as they are; runs of unstyled paragraphs through the line heuristics."""
    styled = any(level is not None for level, _ in items)
    offset = _HEURISTIC_OFFSET if styled else 0
    blocks: list[Block] = []
    run: list[str] = []
    for level, text in items:
        if level is None:
            run.append(text)
            continue
        blocks.extend(paragraph_blocks(run, offset))
        run.clear()
        title = join_parts([tidy(part) for part in text.split("\n") if part.strip()])
        if title:
            blocks.append(Block(title, level))
    blocks.extend(paragraph_blocks(run, offset))
    return blocks
