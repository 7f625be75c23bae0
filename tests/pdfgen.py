"""A tiny PDF writer for tests: real text PDFs without a PDF library or a font file.

Text is drawn with a Type0 font in Identity-H encoding: each distinct character gets a
CID in order of first appearance, and a ToUnicode CMap maps CIDs back to Unicode, which
is all a text extractor needs (no font program is embedded, so viewers substitute one).
Switches reproduce the traps real PDFs set: no ToUnicode map (extraction yields glyph
codes) and CIDs mapped to Kangxi radicals (⽇ for 日), as some Japanese producers write.
`outlines()` draws words a renderer shows but no text extractor sees (filled rectangles
traced from Pillow's rendering of a real font), for pages whose text layer is junk, and
`jbig2_scan_pdf()` a scan whose image only a full renderer decodes.
"""

from __future__ import annotations

import io
from pathlib import Path

# Characters some Japanese PDF producers map to look-alike Kangxi radical code points.
KANGXI = {"日": "\u2f47", "月": "\u2f49", "人": "\u2f08", "力": "\u2f12", "金": "\u2fa6"}

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points


def make_pdf(pages: list[list[str]], *, title: str | None = None, to_unicode: bool = True,
             kangxi: bool = False, font_size: int = 11, invisible: bool = False,
             drawings: list[bytes] | None = None) -> bytes:
    """A PDF with one page per entry of `pages`, each a list of text lines drawn top-down.

    to_unicode=False omits the ToUnicode CMap (the "glyph codes" trap); kangxi=True maps the
    CIDs of 日, 月, 人, 力, 金 to Kangxi radicals (the look-alike trap). invisible=True sets
    text render mode 3 (extractable, not drawn), and drawings[i] is painted under page i's
    text (see outlines()).
    """
    cids: dict[str, int] = {}
    for page in pages:
        for line in page:
            for ch in line:
                cids.setdefault(ch, len(cids) + 1)

    objects: list[bytes] = []  # object i+1 is objects[i]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page tree exists
    pages_obj = add(b"")
    descriptor = add(b"<< /Type /FontDescriptor /FontName /TestCJK /Flags 4 /FontBBox [0 -120 1000 880] "
                     b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>")
    cid_font = add(b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /TestCJK "
                   b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                   b"/FontDescriptor %d 0 R /DW 1000 >>" % descriptor)
    font_dict = (b"<< /Type /Font /Subtype /Type0 /BaseFont /TestCJK /Encoding /Identity-H "
                 b"/DescendantFonts [%d 0 R]" % cid_font)
    if to_unicode:
        cmap = _to_unicode_cmap(cids, KANGXI if kangxi else {})
        font_dict += b" /ToUnicode %d 0 R" % add(_stream(cmap))
    font = add(font_dict + b" >>")

    kids = []
    for i, page in enumerate(pages):
        text = _content(page, cids, font_size, invisible)
        content = add(_stream(drawings[i] + b"\n" + text if drawings and i < len(drawings) else text))
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] "
                        b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                        % (pages_obj, PAGE_WIDTH, PAGE_HEIGHT, font, content)))
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    info = add(b"<< /Title <%s> /Producer (tests/pdfgen.py) >>" % _utf16_hex(title)) if title else None
    return _assemble(objects, catalog, info)


def write_pdf(path: Path, pages: list[list[str]], **options: object) -> Path:
    """make_pdf() written to `path`."""
    path.write_bytes(make_pdf(pages, **options))  # type: ignore[arg-type]
    return path


def scanned_pdf(lines: list[str], font_path: str, size: int = 40) -> bytes:
    """An image-only page (what a scanner produces): `lines` drawn by Pillow, saved as PDF."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path, size)
    image = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((100, 120 + i * int(size * 1.8)), line, font=font, fill=0)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=150)
    return out.getvalue()


def outlines(lines: list[str], font_path: str, size: int = 24) -> bytes:
    """Content-stream operators that paint `lines` (top-down, `size` pt) as filled rectangles.

    Pillow renders the lines with a real font at 4 px per point; each run of dark pixels in a
    row becomes one rectangle. pdftoppm draws the words; pypdf finds neither text nor images.
    """
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    scale = 4
    font = ImageFont.truetype(font_path, size * scale)
    image = Image.new("L", (PAGE_WIDTH * scale, PAGE_HEIGHT * scale), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((72 * scale, (72 + i * size * 1.8) * scale), line, font=font, fill=0)
    dark = np.asarray(image) < 128
    ops = [b"0 g"]
    for y in np.flatnonzero(dark.any(axis=1)):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], dark[y].astype(np.int8), [0]))))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            ops.append(b"%.2f %.2f %.2f %.2f re" % (start / scale, PAGE_HEIGHT - (y + 1) / scale,
                                                    (end - start) / scale, 1 / scale))
    ops.append(b"f")
    return b"\n".join(ops)


def jbig2_scan_pdf(lines: list[str], font_path: str, size: int = 40) -> bytes:
    """A scanned page whose image is JBIG2 (as office scanners write): pypdf cannot decode it
    without the jbig2dec tool, pdftoppm can. One generic region in MMR coding, which is
    CCITT G4, taken from the strip of a TIFF that Pillow (libtiff) encodes; libtiff writes its
    white as JBIG2's black, hence /Decode [1 0]."""
    import struct

    from PIL import Image, ImageDraw, ImageFont

    width, height = 1240, 1754  # A4 at 150 dpi
    font = ImageFont.truetype(font_path, size)
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((100, 120 + i * int(size * 1.8)), line, font=font, fill=0)
    tiff = io.BytesIO()
    image.save(tiff, "TIFF", compression="group4", tiffinfo={278: height})  # one strip
    tags = Image.open(io.BytesIO(tiff.getvalue())).tag_v2
    g4 = tiff.getvalue()[tags[273][0]:tags[273][0] + tags[279][0]]

    def segment(number: int, kind: int, data: bytes) -> bytes:  # no referred segments, page 1
        return struct.pack(">IBBBI", number, kind, 0, 1, len(data)) + data

    page_info = struct.pack(">IIIIBH", width, height, 0, 0, 0, 0)
    region = struct.pack(">IIIIB", width, height, 0, 0, 0) + b"\x01" + g4  # flags: MMR
    data = segment(0, 48, page_info) + segment(1, 39, region)  # page info, lossless generic region
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
               b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
               b"/BitsPerComponent 1 /Decode [1 0] /Filter /JBIG2Decode /Length %d >>\nstream\n%s\nendstream"
               % (width, height, len(data), data),
               _stream(b"q %d 0 0 %d 0 0 cm /Im1 Do Q" % (PAGE_WIDTH, PAGE_HEIGHT)),
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /XObject "
               b"<< /Im1 3 0 R >> >> /Contents 4 0 R >>" % (PAGE_WIDTH, PAGE_HEIGHT)]
    return _assemble(objects, 1, None)


def _content(lines: list[str], cids: dict[str, int], font_size: int, invisible: bool = False) -> bytes:
    leading = font_size * 1.6
    ops = [b"BT", b"/F1 %d Tf" % font_size] + ([b"3 Tr"] if invisible else [])
    y = PAGE_HEIGHT - 72
    for line in lines:
        codes = "".join(f"{cids[ch]:04X}" for ch in line)
        ops.append(b"1 0 0 1 72 %.1f Tm <%s> Tj" % (y, codes.encode()))
        y -= leading
    ops.append(b"ET")
    return b"\n".join(ops)


def _to_unicode_cmap(cids: dict[str, int], substitutes: dict[str, str]) -> bytes:
    entries = [f"<{cid:04X}> <{_utf16_hex(substitutes.get(ch, ch)).decode()[4:]}>"
               for ch, cid in cids.items()]
    body = []
    for start in range(0, len(entries), 100):  # a bfchar block holds at most 100 entries
        chunk = entries[start:start + 100]
        body.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    text = (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(body)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    )
    return text.encode("ascii")


def _utf16_hex(text: str) -> bytes:
    """UTF-16BE with byte-order mark, as hex: how PDF strings hold non-ASCII text."""
    return ("\ufeff" + text).encode("utf-16-be").hex().upper().encode()


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)


def _assemble(objects: list[bytes], root: int, info: int | None) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"/Size %d /Root %d 0 R" % (len(objects) + 1, root)
    if info:
        trailer += b" /Info %d 0 R" % info
    out.write(b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref))
    return out.getvalue()
