"""Japanese PDFs that carry CJK Radicals Supplement forms (⺠ in 国⺠, ⻑ in 社⻑) are found by
the ordinary kanji, pages of glyph-name junk are rendered (pdftoppm) and OCR'd or named, and
pypdf's own log lines name the file (issue 16, item 18). Real PDFs from tests/pdfgen.py, real
pdftoppm and tesseract, real SQLite/FTS5."""

from __future__ import annotations

import glob
import logging
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from ingest import ocr
from ingest.radicals import RADICAL_FOLDS, fold_radicals
from kb import KnowledgeBase
from kb.index.analyser import tokens
from tests.pdfgen import make_pdf, outlines

LINES = ["国⺠の皆様からの声を社⻑に届ける手順", "⻘色の申込書は⻝品売場の窓口で受け付ける"]


def test_radical_forms_fold_to_their_kanji_one_for_one() -> None:
    assert fold_radicals("国⺠・社⻑") == "国民・社長"
    assert all(len(k) == len(v) == 1 for k, v in RADICAL_FOLDS.items())
    assert "民" in tokens("国⺠") or "国民" in tokens("国⺠")
    assert tokens("社⻑に届ける") == tokens("社長に届ける")


def test_a_pdf_with_radical_forms_is_found_by_the_ordinary_kanji(tmp_path: Path) -> None:
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.ingest_document(data=make_pdf([LINES]), name="窓口手順.pdf")
        for query in ("国民の声", "社長", "青色の申込書", "食品売場"):
            hits = kb.search(query, mode="lexical").passages
            assert hits and hits[0].document_id == "窓口手順.pdf", query
            assert "⺠" not in hits[0].text and "国民" in hits[0].text


def test_pypdf_log_lines_name_the_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = re.sub(rb"startxref\n\d+", b"startxref\n17", make_pdf([["壊れた相互参照の手順書です。"]]))
    with caplog.at_level(logging.WARNING), KnowledgeBase.open(tmp_path / "kb") as kb:
        kb.ingest_document(data=data, name="xref壊れ.pdf")
    pypdf_lines = [r.getMessage() for r in caplog.records if r.name.startswith("pypdf")]
    assert pypdf_lines, caplog.text
    assert all(line.startswith("xref壊れ.pdf: ") for line in pypdf_lines), pypdf_lines


JUNK = "/53/50/4C/49/54/20/50/52/4F/44/55/43/54/20/47/55/49/44/45"


def test_hex_glyph_names_are_caught_by_their_shape_on_every_page(tmp_path: Path) -> None:
    """A page of glyph names is named (needs OCR); glyph names among real text are left out."""
    pages = [[JUNK, JUNK, JUNK],
             ["返品の受付は購入から七日以内です。", "レシートと商品をお持ちください。", JUNK,
              "開封済みの食品は返品できません。", "送料はお客様のご負担となります。"],
             ["交換の手順は窓口で説明します。"]]
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        report = kb.ingest_document(data=make_pdf(pages), name="junk.pdf", ocr=False)
        texts = [p.text for p in kb.search("返品 交換", mode="lexical", passages=10).passages]
    warnings = " / ".join(report.warnings)
    assert "glyph codes" in warnings and "glyph-name codes (/53/50/4C/…) left out" in warnings, warnings
    assert texts and not any("/53/50" in t or "4C/49" in t for t in texts), texts
    assert any("七日以内" in t for t in texts)


# ---------------------------------------------------------------- glyph-junk pages, rendered and OCR'd

def _cjk_font() -> str | None:
    found = sorted(glob.glob("/usr/share/fonts/**/NotoSansCJK*.tt[cf]", recursive=True))
    return found[0] if found else None


DRAWN = ["Chapter 2 Returns", "返品の受付は七日以内です", "Returns are accepted within seven days"]


@pytest.fixture(scope="module")
def junk_layer_pdf() -> bytes:
    """Page 1 real text; page 2 shows DRAWN (vector shapes, no images) over a text layer that
    extracts as glyph names only: what a manual with a font lacking a Unicode map looks like."""
    font = _cjk_font()
    if font is None:
        pytest.skip("no Noto Sans CJK font to draw the page (apt-get install fonts-noto-cjk)")
    return make_pdf([["Chapter 1 Exchanges", "交換の手順は窓口で説明します。"], [JUNK] * 4], invisible=True,
                    drawings=[b"", outlines(DRAWN, font)])


@pytest.mark.skipif(not (shutil.which("pdftoppm") and ocr.available() and ocr.has_japanese()),
                    reason="needs pdftoppm and tesseract with Japanese "
                           "(apt-get install poppler-utils tesseract-ocr tesseract-ocr-jpn)")
def test_glyph_junk_page_is_rendered_and_read_by_ocr(tmp_path: Path, junk_layer_pdf: bytes,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"  # where the renderer's files go, to see that none are left
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        report = kb.ingest_document(data=junk_layer_pdf, name="junk-font.pdf")
        japanese = kb.search("返品の受付", mode="lexical").passages
        english = kb.search("returns accepted seven days", mode="lexical").passages
    assert report.warnings == ["page 2: read by OCR"], report.warnings
    for hits in (japanese, english):
        assert hits and hits[0].document_id == "junk-font.pdf" and hits[0].pages == "p. 2", hits
    assert "七日以内" in japanese[0].text and "seven days" in english[0].text
    assert not any("/53/50" in hit.text for hit in japanese + english)
    assert list(temp.iterdir()) == []  # the copy of the PDF and the rendered page are gone


@pytest.mark.skipif(not ocr.available(), reason="needs tesseract (apt-get install tesseract-ocr)")
def test_glyph_junk_page_without_pdftoppm_is_named_with_how_to_enable(
        tmp_path: Path, junk_layer_pdf: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with tesseract but without pdftoppm
    bin_dir.mkdir()
    (bin_dir / "tesseract").symlink_to(shutil.which("tesseract"))
    monkeypatch.setenv("PATH", str(bin_dir))
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        report = kb.ingest_document(data=junk_layer_pdf, name="junk-font.pdf")
        hits = kb.search("返品の受付", mode="lexical").passages
    assert report.warnings == ["page 2: text layer is unreadable (glyph codes) (to OCR it, install the "
                               "page renderer pdftoppm: apt-get install poppler-utils)"], report.warnings
    assert not hits or all(hit.pages == "p. 1" for hit in hits)
