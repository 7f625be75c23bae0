"""PDF manuals as they arrive in real offices: scans, glyph codes, Kangxi radicals, passwords, damage."""

from __future__ import annotations

import glob
import io
import random
import shutil
import time
from pathlib import Path

import pypdf
import pytest

from ingest.documents import DocumentError, read_document
from ingest.pdf import looks_like_glyph_codes
from tests.conftest import SHARED_DATA
from tests.pdfgen import jbig2_scan_pdf, make_pdf, scanned_pdf, write_pdf

REAL_PDF = SHARED_DATA / "manuals" / "mhlw_model_work_rules.pdf"
KANGXI_BLOCK = range(0x2F00, 0x2FE0)

RULES = [
    ["第1章 総則", "(目的)", "第1条 この規則は、日本の会社で働く人の労働条件を定める。",
     "Hello world: this manual also has English text."],
    ["第2章 休暇", "(年次有給休暇)", "第2条 年次有給休暇は、月に1日与える。人事部が管理する。"],
]


def _cjk_font() -> str | None:
    found = sorted(glob.glob("/usr/share/fonts/**/NotoSansCJK*.tt[cf]", recursive=True)
                   + glob.glob("/usr/share/fonts/**/NotoSansCJK*.otf", recursive=True))
    return found[0] if found else None


def _tesseract_with_japanese() -> bool:
    from ingest import ocr

    return ocr.available() and ocr.has_japanese()


def _join(*pdfs: bytes) -> bytes:
    writer = pypdf.PdfWriter()
    for data in pdfs:
        writer.append(pypdf.PdfReader(io.BytesIO(data)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _encrypted(data: bytes, user: str, owner: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user, owner_password=owner)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# ---------------------------------------------------------------- the test PDF writer itself

def test_pdfgen_text_extracts_back_with_pypdf() -> None:
    reader = pypdf.PdfReader(io.BytesIO(make_pdf(RULES, title="就業規則")))
    assert reader.metadata.title == "就業規則"
    assert reader.pages[0].extract_text().splitlines() == RULES[0]
    assert reader.pages[1].extract_text().splitlines() == RULES[1]


def test_pdfgen_traps_reproduce_what_real_pdfs_do() -> None:
    no_map = pypdf.PdfReader(io.BytesIO(make_pdf(RULES, to_unicode=False))).pages[0].extract_text()
    assert "規則" not in no_map and any(ord(ch) < 32 and ch not in "\n " for ch in no_map)
    kangxi = pypdf.PdfReader(io.BytesIO(make_pdf(RULES, kangxi=True))).pages[0].extract_text()
    assert "\u2f47本" in kangxi and "日本" not in kangxi  # ⽇本: looks right, is not searchable


# ---------------------------------------------------------------- text, headings, pages

def test_pdf_passages_carry_pages_headings_and_title(tmp_path: Path) -> None:
    document = read_document(write_pdf(tmp_path / "rules.pdf", RULES, title="就業規則"))
    assert (document.name, document.title) == ("rules.pdf", "就業規則")
    assert (document.file_type, document.pages) == ("pdf", 2)
    assert document.warnings == [] and document.needs_ocr_pages == []
    leave = next(p for p in document.passages if "年次有給休暇" in p.text)
    assert (leave.page_start, leave.page_end) == (2, 2)
    assert leave.heading_path == ("第2章 休暇", "第2条(年次有給休暇)")
    first = document.passages[0]
    assert first.heading_path == ("第1章 総則", "第1条(目的)") and "English text" in first.text


def test_title_falls_back_to_first_heading() -> None:
    assert read_document(Path("規則.pdf"), make_pdf(RULES)).title == "第1章 総則"


def test_kangxi_radicals_are_folded_so_words_are_searchable() -> None:
    document = read_document(Path("kangxi.pdf"), make_pdf(RULES, kangxi=True))
    text = "\n".join(p.text for p in document.passages)
    assert "日本の会社" in text and "月に1日" in text and "働く人" in text
    assert not any(ord(ch) in KANGXI_BLOCK for ch in text)


def test_full_width_digits_and_kanji_numerals_make_headings() -> None:
    pages = [["第一章 総則", "（目的）", "第１条 この規則は会社の規則である。",
              "第二章 賃金", "第十二条 賃金は月末に払う。"]]
    document = read_document(Path("numerals.pdf"), make_pdf(pages))
    paths = [p.heading_path for p in document.passages]
    assert paths == [("第一章 総則", "第1条(目的)"), ("第二章 賃金", "第十二条")]


def test_paragraph_running_over_a_page_break_keeps_both_pages() -> None:
    pages = [["第3章 返品", "返品の受付は、商品到着後8日以内に限り、購入者本人からの申し出により、"],
             ["当社の窓口で行うものとする。", "返金は受付後に行う。"]]
    passage = read_document(Path("break.pdf"), make_pdf(pages)).passages[0]
    assert "申し出により、当社の窓口で" in passage.text  # wrapped lines joined without a space
    assert (passage.page_start, passage.page_end) == (1, 2)


def test_page_numbers_and_running_headers_are_not_indexed() -> None:
    titles = ["受付", "返品", "交換", "返金", "記録"]
    pages = [["お客様対応マニュアル", f"第{n}章 {t}", f"{t}の手順を説明する。担当者が行う。", str(n)]
             for n, t in enumerate(titles, start=1)]
    document = read_document(Path("furniture.pdf"), make_pdf(pages))
    text = "\n".join(p.text for p in document.passages)
    assert "お客様対応マニュアル" not in text and "交換の手順" in text
    assert all(p.text.strip() not in {"1", "2", "3", "4", "5"} for p in document.passages)
    assert [p.heading_path for p in document.passages] == [(f"第{n}章 {t}",) for n, t in enumerate(titles, 1)]


def test_long_pdf_text_is_cut_into_passages_under_400_chars() -> None:
    sentences = [f"第{i}項の手順では、受付担当者が申し出を記録し、責任者へ報告する。" for i in range(60)]
    full = "".join(sentences)
    lines = [full[i:i + 38] for i in range(0, len(full), 38)]  # hard-wrapped like a PDF
    pages = [["第1章 手順"] + lines[:40], lines[40:]]
    passages = read_document(Path("long.pdf"), make_pdf(pages)).passages
    assert len(passages) >= 5 and all(len(p.text) <= 400 for p in passages)
    assert all(p.text.endswith("。") for p in passages)  # cut at sentence ends, not mid-word
    # (a number split over two lines, 第4|4項, is joined with a space: the reader cannot know)
    assert "".join(p.text for p in passages).replace(" ", "") == full
    assert passages[0].page_start == 1 and passages[-1].page_end == 2


def test_blank_page_is_reported_but_not_an_error() -> None:
    document = read_document(Path("blank.pdf"), make_pdf([RULES[0], [], RULES[1]]))
    assert document.pages == 3 and document.needs_ocr_pages == []
    assert document.warnings == ["page 2: no text and no images (blank page, or text drawn as outlines); "
                                 "not indexed"]
    assert [p.page_start for p in document.passages] == [1, 3]


# ---------------------------------------------------------------- unreadable text layers

def _soup(seed: int, low: int, high: int, n: int = 200) -> str:
    """Glyph numbers read as code points: what a font without a Unicode map extracts as."""
    rng = random.Random(seed)
    return "".join(chr(rng.randint(low, high)) for _ in range(n))


GARBAGE = {
    "pdfminer cid codes": "(cid:12)(cid:345)(cid:67)(cid:890) (cid:3)(cid:44)(cid:56)(cid:7)(cid:1021)",
    "control characters": "\x01\x02\x03\x04\x05\x06\n\x07\x08\t\n\x01\x02\x0b\x04\x0c\r\x0e\x06\x0f\x10",
    "private use area": "\ue000\ue013\ue07a\ue101 \ue2f0\ue044\ue0a1\ue0b2\ue0c3\ue0d4\ue0e5\ue0f6 \ue107",
    "glyph ids as code points": _soup(7, 600, 8000),
    "small glyph ids as latin letters": _soup(3, 0x100, 0x24F),
    "symbol runs": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ !\"#$%&'()*+,-./ ◆■□●○▲△▼▽☆★※",
}
REAL_TEXT = {
    "japanese": "第23条 採用日から6か月間継続勤務し、所定労働日の8割以上出勤した労働者に対しては、"
                "10日の年次有給休暇を与える。",
    "english": "Press and hold the power button for five seconds. If the lamp does not light, call us.",
    "contents page": "第1章 総則……………………………10\n第2章 採用、異動等…………………12\n第3章 服務規律……16",
    "number table": "勤続期間 6か月 1年6か月 2年6か月\n付与日数 10日 11日 12日 14日 16日\n100 200 300 400",
    "german": "Über die Größe der Straße: Änderungen für Kunden in München und Köln sind möglich.",
    "bullets from a symbol font": "\uf06c 電源を切る \uf06c プラグを抜く \uf06c 本体が冷えるまで待つ。" * 3,
}


@pytest.mark.parametrize("name", GARBAGE)
def test_glyph_code_detector_flags_garbage(name: str) -> None:
    assert looks_like_glyph_codes(GARBAGE[name])


@pytest.mark.parametrize("name", REAL_TEXT)
def test_glyph_code_detector_passes_real_text(name: str) -> None:
    assert not looks_like_glyph_codes(REAL_TEXT[name])


def test_page_without_unicode_map_is_not_indexed_and_is_named() -> None:
    data = _join(make_pdf(RULES[:1]), make_pdf(RULES[1:], to_unicode=False))
    document = read_document(Path("mixed-fonts.pdf"), data, ocr=False)
    assert document.needs_ocr_pages == [2]
    assert any(w.startswith("page 2: text layer is unreadable (glyph codes)") for w in document.warnings)
    assert all(p.page_start == 1 for p in document.passages)
    assert not any(ord(ch) < 32 and ch != "\n" for p in document.passages for ch in p.text)


def test_pdf_with_only_glyph_codes_is_an_error() -> None:
    with pytest.raises(DocumentError, match=r"codes\.pdf: no readable text: pages 1-2: text layer is unread"):
        read_document(Path("codes.pdf"), make_pdf(RULES, to_unicode=False), ocr=False)


# ---------------------------------------------------------------- scanned pages and OCR

needs_tesseract = pytest.mark.skipif(
    not _tesseract_with_japanese(),
    reason="tesseract with Japanese data not installed (apt-get install tesseract-ocr tesseract-ocr-jpn)")


@pytest.fixture(scope="module")
def scan() -> bytes:
    font = _cjk_font()
    if font is None:
        pytest.skip("no Noto Sans CJK font (apt-get install fonts-noto-cjk) to draw a scanned page")
    lines = ["年次有給休暇の申請方法", "休暇は前日までに上長へ申請する。", "Apply one day in advance."]
    return scanned_pdf(lines, font)


def test_scanned_page_without_ocr_is_listed_with_a_warning(scan: bytes) -> None:
    document = read_document(Path("scan.pdf"), _join(make_pdf(RULES[:1]), scan), ocr=False)
    assert document.pages == 2 and document.needs_ocr_pages == [2] and document.ocr_pages == []
    assert document.warnings == ["page 2: no text layer (OCR is turned off)"]
    assert "申請" not in "".join(p.text for p in document.passages)


def test_scanned_page_without_tesseract_says_what_to_install(scan: bytes, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH on which tesseract cannot be found
    document = read_document(Path("scan.pdf"), _join(make_pdf(RULES[:1]), scan))
    assert document.needs_ocr_pages == [2]
    assert document.warnings == [
        "page 2: no text layer (needs OCR: install tesseract-ocr and tesseract-ocr-jpn)"]


def test_scan_only_pdf_without_ocr_is_an_error(scan: bytes) -> None:
    with pytest.raises(DocumentError, match=r"scan\.pdf: no readable text: page 1: no text layer"):
        read_document(Path("scan.pdf"), scan, ocr=False)


@needs_tesseract
def test_scanned_page_is_read_by_ocr(scan: bytes) -> None:
    document = read_document(Path("scan.pdf"), _join(make_pdf(RULES[:1]), scan))
    assert document.ocr_pages == [2] and document.needs_ocr_pages == []
    assert document.warnings == ["page 2: read by OCR"]
    text = "".join(p.text for p in document.passages if p.page_end == 2)
    assert "年次有給休暇" in text and "前日までに上長へ申請する" in text and "advance" in text
    assert " " not in text[text.index("年次有給休暇"):text.index("Apply")]  # tesseract's 年 次 有 給 undone


@needs_tesseract
def test_scan_only_pdf_is_readable_with_ocr(scan: bytes) -> None:
    document = read_document(Path("scan.pdf"), scan)
    assert document.ocr_pages == [1] and document.passages[0].page_start == 1


@pytest.fixture(scope="module")
def jbig2_scan() -> bytes:
    font = _cjk_font()
    if font is None:
        pytest.skip("no Noto Sans CJK font (apt-get install fonts-noto-cjk) to draw a scanned page")
    lines = ["返品の受付は七日以内です。", "Returns within seven days."]
    return _join(make_pdf(RULES[:1]), jbig2_scan_pdf(lines, font, size=56))


@needs_tesseract
@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="needs pdftoppm (apt-get install poppler-utils)")
def test_scan_whose_image_pypdf_cannot_decode_is_rendered_and_read(jbig2_scan: bytes) -> None:
    document = read_document(Path("jbig2.pdf"), jbig2_scan)
    assert document.ocr_pages == [2] and document.needs_ocr_pages == []
    assert document.warnings == ["page 2: read by OCR"]
    text = "".join(p.text for p in document.passages if p.page_end == 2)
    assert "返品の受付は七日以内です" in text and "seven days" in text


@pytest.mark.skipif(shutil.which("jbig2dec") is not None, reason="jbig2dec is installed: pypdf decodes JBIG2")
def test_scan_whose_image_cannot_be_decoded_is_named_not_called_blank(
        jbig2_scan: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("tesseract"):  # a PATH with tesseract but without pdftoppm
        (tmp_path / "tesseract").symlink_to(shutil.which("tesseract"))
    monkeypatch.setenv("PATH", str(tmp_path))
    document = read_document(Path("jbig2.pdf"), jbig2_scan)
    assert document.needs_ocr_pages == [2]
    hint = ("to OCR it, install the page renderer pdftoppm: apt-get install poppler-utils"
            if shutil.which("tesseract") else "needs OCR: install tesseract-ocr and tesseract-ocr-jpn")
    assert document.warnings == [f"page 2: its images could not be decoded ({hint})"]


# ---------------------------------------------------------------- passwords and damage

def test_encrypted_pdf_says_remove_the_password() -> None:
    data = _encrypted(make_pdf(RULES), user="secret", owner="secret")
    with pytest.raises(DocumentError, match=r"locked\.pdf: encrypted: remove the password and upload again"):
        read_document(Path("locked.pdf"), data)


def test_pdf_with_only_an_owner_password_reads() -> None:
    data = _encrypted(make_pdf(RULES), user="", owner="owner-only")
    document = read_document(Path("restricted.pdf"), data)
    assert any("年次有給休暇" in p.text for p in document.passages)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.9])
def test_truncated_pdf_is_an_error(keep: float) -> None:
    data = make_pdf(RULES * 3)
    with pytest.raises(DocumentError, match=r"cut\.pdf: damaged or truncated PDF .*download or export it"):
        read_document(Path("cut.pdf"), data[: int(len(data) * keep)])


def test_text_file_named_pdf_is_an_error() -> None:
    with pytest.raises(DocumentError, match=r"notes\.pdf: the name says PDF but the file is plain text"):
        read_document(Path("notes.pdf"), "返品の受付手順\n".encode())


# ---------------------------------------------------------------- the real manual

@pytest.fixture(scope="module")
def real_manual() -> tuple[object, float]:
    if not REAL_PDF.exists():
        pytest.skip(f"real manual not present: {REAL_PDF}")
    started = time.perf_counter()
    document = read_document(REAL_PDF)
    return document, time.perf_counter() - started


@pytest.mark.slow  # reads a real 93-page PDF (when ../shared/data has it)
def test_real_manual_reads_every_page(real_manual: tuple[object, float]) -> None:
    document, _ = real_manual
    assert document.pages == 93 and document.file_type == "pdf"
    assert document.title == "モデル就業規則(R4.11版)"
    assert document.warnings == [] and document.needs_ocr_pages == [] and document.ocr_pages == []
    assert all(len(p.text) <= 400 for p in document.passages)
    assert {p.page_start for p in document.passages} >= set(range(10, 94))  # every page of the body


@pytest.mark.slow  # reads a real 93-page PDF (when ../shared/data has it)
def test_real_manual_has_no_kangxi_radicals(real_manual: tuple[object, float]) -> None:
    document, _ = real_manual
    texts = [p.text + "".join(p.heading_path) for p in document.passages]
    assert not any(ord(ch) in KANGXI_BLOCK for text in texts for ch in text)


@pytest.mark.slow  # reads a real 93-page PDF (when ../shared/data has it)
def test_real_manual_annual_leave_article_has_page_and_heading(real_manual: tuple[object, float]) -> None:
    document, _ = real_manual
    article = [p for p in document.passages if "年次有給休暇" in p.text
               and p.heading_path[-1:] == ("第23条(年次有給休暇)",)]
    assert article, "no passage under 第23条(年次有給休暇)"
    assert article[0].heading_path == ("第5章 休暇等", "第23条(年次有給休暇)")
    assert article[0].page_start == 38 and article[0].text.startswith("第23条 採用日から6か月間継続勤務し")
