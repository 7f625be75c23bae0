"""Japanese PDFs that carry CJK Radicals Supplement forms (⺠ in 国⺠, ⻑ in 社⻑) are found by
the ordinary kanji, and pypdf's own log lines name the file (issue 16, item 18). Real PDFs
from tests/pdfgen.py, real SQLite/FTS5."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from ingest.radicals import RADICAL_FOLDS, fold_radicals
from kb import KnowledgeBase
from kb.index.analyser import tokens
from tests.pdfgen import make_pdf

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
