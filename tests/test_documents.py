"""Manuals in Word, Markdown, HTML and plain text; broken uploads; how passages are cut."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from pathlib import Path

import pytest

from ingest.documents import DOCUMENT_SUFFIXES, DocumentError, Passage, build_passages, read_document
from ingest.markup import Block, heading_of
from tests.pdfgen import make_pdf

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _p(text: str, style: str | None = None) -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{props}<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>"


def make_docx(body: str, styles: str | None = None, title: str | None = None) -> bytes:
    """A .docx as Word writes it, reduced to the parts a reader looks at."""
    if styles is None:  # Japanese Word: style ids "1", "2", names "heading 1" (shown as 見出し 1)
        styles = (f'<w:styles {W}>'
                  '<w:style w:type="paragraph" w:styleId="1"><w:name w:val="heading 1"/></w:style>'
                  '<w:style w:type="paragraph" w:styleId="2"><w:name w:val="heading 2"/></w:style>'
                  '<w:style w:type="paragraph" w:styleId="Custom"><w:name w:val="社内見出し"/>'
                  '<w:basedOn w:val="2"/></w:style>'
                  '<w:style w:type="paragraph" w:styleId="a"><w:name w:val="Normal"/></w:style></w:styles>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        z.writestr("word/document.xml", f'<?xml version="1.0" encoding="UTF-8"?><w:document {W}>'
                   f"<w:body>{body}</w:body></w:document>")
        z.writestr("word/styles.xml", styles)
        if title:
            z.writestr("docProps/core.xml", '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/'
                       'package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                       f"<dc:title>{title}</dc:title></cp:coreProperties>")
    return out.getvalue()


def _zip(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return out.getvalue()


DOCX_BODY = (
    _p("返品対応マニュアル", "1")
    + _p("この手順書は返品の受付について定める。")
    + _p("受付", "2")
    + "<w:p><w:r><w:t>商品到着後8日以内に受け付ける。</w:t><w:br/>"
      "<w:t>期限を過ぎたものは責任者に相談する。</w:t></w:r><w:del><w:r><w:delText>削除された古い規定</w:delText></w:r></w:del>"
      '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>PAGEREF _Toc1</w:instrText></w:r></w:p>'
    + "<w:tbl><w:tr><w:tc>" + _p("区分") + "</w:tc><w:tc>" + _p("期限") + "</w:tc></w:tr>"
      "<w:tr><w:tc>" + _p("初期不良") + "</w:tc><w:tc>" + _p("30日") + "</w:tc></w:tr></w:tbl>"
    + _p("返金", "Custom")
    + _p("第1条（返金の時期）")
    + _p("返金は、商品の回収を確認した後に行う。")
)


# ---------------------------------------------------------------- Word

def test_docx_headings_paragraphs_and_tables() -> None:
    data = make_docx(DOCX_BODY, title="返品マニュアル 第2版")
    document = read_document(Path("henpin.docx"), data)
    assert (document.title, document.file_type, document.pages) == ("返品マニュアル 第2版", "docx", None)
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    by_text = {p.text: p for p in document.passages}
    assert by_text["この手順書は返品の受付について定める。"].heading_path == ("返品対応マニュアル",)
    accept = next(p for p in document.passages if p.text.startswith("商品到着後"))
    assert accept.heading_path == ("返品対応マニュアル", "受付")
    assert "8日以内に受け付ける。期限を過ぎたもの" in accept.text  # a line break inside a paragraph
    assert "区分 | 期限\n初期不良 | 30日" in accept.text  # table rows as text rows
    refund = next(p for p in document.passages if "回収を確認" in p.text)
    # a custom style based on heading 2; an unstyled 第1条 line still becomes the article heading
    assert refund.heading_path == ("返品対応マニュアル", "返金", "第1条(返金の時期)")
    assert all(p.page_start is None and p.page_end is None for p in document.passages)
    everything = "".join(p.text for p in document.passages)
    assert "削除された古い規定" not in everything and "PAGEREF" not in everything


def test_docx_with_english_heading_styles_and_no_title_uses_first_heading() -> None:
    styles = (f'<w:styles {W}><w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/>'
              '</w:style><w:style w:type="paragraph" w:styleId="Heading2">'
              '<w:name w:val="見出し 2"/></w:style></w:styles>')
    body = (_p("Safety", "Heading1") + _p("Unplug the kettle before cleaning.")
            + _p("清掃", "Heading2") + _p("水洗いしない。"))
    document = read_document(Path("kettle.docx"), make_docx(body, styles))
    assert document.title == "Safety"
    assert [p.heading_path for p in document.passages] == [("Safety",), ("Safety", "清掃")]


def test_docx_text_box_is_read_once_and_outline_levels_make_headings() -> None:
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    box = "<w:txbxContent>" + _p("注意:高温") + "</w:txbxContent>"
    body = ('<w:p><w:pPr><w:outlineLvl w:val="0"/></w:pPr><w:r><w:t>安全上の注意</w:t></w:r></w:p>'
            f'<w:p><w:r><w:t>本体に触れない。</w:t></w:r><w:r><mc:AlternateContent {mc}><mc:Choice>{box}'
            f"</mc:Choice><mc:Fallback>{box}</mc:Fallback></mc:AlternateContent></w:r></w:p>"
            '<w:p><w:pPr><w:outlineLvl w:val="x"/></w:pPr><w:r><w:t>壊れた属性の段落。</w:t></w:r></w:p>')
    passages = read_document(Path("box.docx"), make_docx(body)).passages
    assert [(p.heading_path, p.text) for p in passages] == [
        (("安全上の注意",), "本体に触れない。注意:高温\n壊れた属性の段落。")]


# ---------------------------------------------------------------- Markdown, HTML, text

MARKDOWN = """---
title: 交換対応ガイド
---
# 第1章 交換の受付

交換は **到着後8日以内** に受け付けます。詳しくは[規約](https://example.com/terms)を参照。

## 1.1 確認事項

- 注文番号
- 商品の状態

| 区分 | 期限 |
|------|------|
| 初期不良 | 30日 |

```
コード例は本文として残す
```
"""


def test_markdown_headings_lists_tables_and_front_matter() -> None:
    document = read_document(Path("guide.md"), MARKDOWN.encode())
    assert (document.title, document.file_type) == ("交換対応ガイド", "md")
    first, second = document.passages
    assert first.heading_path == ("第1章 交換の受付",)
    assert first.text == "交換は 到着後8日以内 に受け付けます。詳しくは規約を参照。"
    assert second.heading_path == ("第1章 交換の受付", "1.1 確認事項")
    assert second.text == "注文番号\n商品の状態\n区分 | 期限\n初期不良 | 30日\nコード例は本文として残す"


def test_markdown_without_front_matter_takes_title_from_first_heading() -> None:
    document = read_document(Path("x.markdown"), b"Intro text.\n\nTitle\n=====\n\nBody text.\n")
    assert document.title == "Title" and document.file_type == "md"
    assert [(p.text, p.heading_path) for p in document.passages] == [
        ("Intro text.", ()), ("Body text.", ("Title",))]


HTML = """<!DOCTYPE html><html><head><meta charset="shift_jis"><title>製品マニュアル</title>
<style>.warn { color: red }</style><script>var secret = "内部用";</script></head>
<body><nav>ホーム</nav><h1>電気ケトル KT-10</h1>
<p>本製品は<b>防水</b>では
ありません。</p>
<h2>お手入れ</h2><ul><li>柔らかい布で拭く</li><li>本体を水に浸けない</li></ul>
<table><tr><th>型番</th><td>KT-10</td></tr><tr><th>容量</th><td>1.0&nbsp;L</td></tr></table>
</body></html>"""


def test_html_in_shift_jis_drops_scripts_and_keeps_structure() -> None:
    document = read_document(Path("kt10.html"), HTML.encode("cp932"))
    assert (document.title, document.file_type) == ("製品マニュアル", "html")
    texts = [(p.heading_path, p.text) for p in document.passages]
    assert texts == [
        ((), "ホーム"),
        (("電気ケトル KT-10",), "本製品は防水ではありません。"),
        (("電気ケトル KT-10", "お手入れ"),
         "柔らかい布で拭く\n本体を水に浸けない\n型番 | KT-10\n容量 | 1.0 L"),
    ]
    assert "内部用" not in str(texts) and "color" not in str(texts)


def test_html_without_headings_uses_article_lines_and_keeps_pre_lines() -> None:
    html = ("<p>（目的）</p><p>第１条　この規程は苦情対応を定める。</p>"
            "<pre>手順1 受付\n手順2 記録</pre><p>第２条（記録）　記録は5年保存する。</p>")
    document = read_document(Path("kitei.htm"), html.encode())
    assert [(p.heading_path, p.text) for p in document.passages] == [
        (("第1条(目的)",), "第1条 この規程は苦情対応を定める。\n手順1 受付 手順2 記録"),
        (("第2条(記録)",), "第2条(記録) 記録は5年保存する。"),
    ]


def test_text_file_in_cp932_with_articles_and_blank_line_paragraphs() -> None:
    text = ("お客様相談室 運用規程\n\n第１章　総則\n\n（目的）\n"
            "第１条　この規程は、お客様からの苦情の受付と\n対応の手順を定める。\n\n"
            "第２条　苦情は受付後２４時間以内に一次回答する。\n")
    document = read_document(Path("kitei.txt"), text.encode("cp932"))
    assert document.file_type == "txt" and document.title == "第1章 総則"
    assert [(p.heading_path, p.text) for p in document.passages] == [
        ((), "お客様相談室 運用規程"),
        (("第1章 総則", "第1条(目的)"), "第1条 この規程は、お客様からの苦情の受付と対応の手順を定める。"),
        (("第1章 総則", "第2条"), "第2条 苦情は受付後24時間以内に一次回答する。"),
    ]


def test_uploaded_bytes_need_no_file_on_disk() -> None:
    upload = b"# FAQ\n\nReset the router.\n"
    document = read_document(Path("/nonexistent/tmp-upload-123"), upload, name="faq.md")
    assert document.name == "faq.md" and document.passages[0].text == "Reset the router."


def test_reads_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "manual.txt"
    path.write_text("Hold the button for five seconds.\n", encoding="utf-8")
    document = read_document(path)
    assert (document.name, document.title) == ("manual.txt", "manual")
    assert document.passages == [Passage("Hold the button for five seconds.", None, None, ())]


# ---------------------------------------------------------------- broken uploads

@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.pdf", b"", r"empty\.pdf: the file is empty \(0 bytes\)"),
        ("empty.md", b"", r"empty\.md: the file is empty"),
        ("blank.txt", b"\n  \n", r"blank\.txt: no text found"),
        ("report.docx", "本文".encode(), r"report\.docx: the name says Word \.docx but the file is plain"),
        ("report.docx", make_pdf([["本文"]]), r"report\.docx: .* is a PDF: rename it to \.pdf"),
        ("old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, r"old Office file .*save as \.docx"),
        ("zip.docx", _zip({"a.txt": "x"}), r"not a Word document \(no word/document\.xml"),
        ("cut.docx", make_docx(DOCX_BODY)[:300], r"cut\.docx: damaged or truncated Word file"),
        ("bad.docx", _zip({"word/document.xml": "<w:document"}), r"bad\.docx: damaged Word file"),
        ("scan.txt", make_pdf([["本文"]]), r"scan\.txt: the name says text but the file is a PDF: rename it"),
        ("photo.md", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, r"photo\.md: .* is an image"),
        ("binary.txt", bytes(range(256)) * 4, r"binary\.txt: the name says text but the file is binary data"),
        ("slides.pptx", b"PK", r"slides\.pptx: unsupported document type '\.pptx' \(use \.pdf, \.docx"),
        ("legacy.doc", b"x", r"legacy\.doc: old Word \.doc files are not supported"),
        ("cases.csv", b"a,b", r"cases\.csv: '\.csv' is a case ledger type"),
    ],
)
def test_broken_uploads_raise_a_clear_error(name: str, data: bytes, message: str) -> None:
    with pytest.raises(DocumentError, match=message) as caught:
        read_document(Path(name), data)
    assert caught.value.path == name


def test_missing_file_is_an_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(DocumentError) as caught:
        read_document(tmp_path / "gone.pdf")
    assert str(caught.value) == f"{tmp_path / 'gone.pdf'}: file not found"


def test_every_listed_suffix_is_readable() -> None:
    samples = {".pdf": make_pdf([["本文です。"]]), ".docx": make_docx(_p("本文です。"))}
    for suffix in DOCUMENT_SUFFIXES:
        data = samples.get(suffix, "本文です。".encode())
        assert read_document(Path(f"x{suffix}"), data).passages[0].text == "本文です。"


# ---------------------------------------------------------------- passages and headings

def test_passages_pack_sentences_and_never_exceed_the_limit() -> None:
    sentences = [f"手順{i}では担当者が内容を確認する。" for i in range(100)] + ["Check the label. " * 3]
    blocks = [Block("第1章 手順", 1), Block("".join(sentences[:50])), Block("".join(sentences[50:]))]
    passages = build_passages(blocks)
    assert all(len(p.text) <= 400 for p in passages) and len(passages) >= 5
    assert all(p.heading_path == ("第1章 手順",) for p in passages)
    joined = "".join(p.text.replace("\n", "") for p in passages)
    assert all(s.strip() in joined for s in sentences[:100])


@pytest.mark.parametrize("seed", range(20))
def test_passages_keep_every_character_in_order_under_the_right_heading(seed: int) -> None:
    rng = random.Random(seed)
    words = ["返品", "受付", "確認し", "、", "。", "Check", "the", "label.", "第3条", "(1)", "1.5kg", "!"]
    blocks: list[Block] = []
    expected: list[tuple[tuple[str, ...], str]] = []  # (path, body text) in order
    path: list[tuple[int, str]] = []
    for i in range(rng.randint(1, 30)):
        if rng.random() < 0.3:  # a heading, always followed by text (else it becomes text itself)
            level = rng.randint(1, 4)
            path = [h for h in path if h[0] < level] + [(level, f"見出し{i}")]
            blocks.append(Block(f"見出し{i}", level))
        text = "".join(rng.choice(words) + rng.choice(["", " "]) for _ in range(rng.randint(1, 300))).strip()
        blocks.append(Block(text))
        expected.append((tuple(h for _, h in path), text))
    passages = [p for p in build_passages(blocks, max_chars=120) if p.heading_path or p.text]
    assert all(0 < len(p.text) <= 120 for p in passages)
    squeeze = str.maketrans("", "", " \n")
    for heading_path in {h for h, _ in expected}:
        body = "".join(t for h, t in expected if h == heading_path).translate(squeeze)
        got = "".join(p.text for p in passages if p.heading_path == heading_path).translate(squeeze)
        assert got == body, heading_path


def test_a_sentence_longer_than_a_passage_is_cut_at_commas() -> None:
    sentence = "、".join(f"項目{i}を確認し" for i in range(120)) + "。"
    passages = build_passages([Block(sentence)])
    assert all(len(p.text) <= 400 for p in passages) and len(passages) > 2
    assert all(p.text.endswith(("、", "。")) for p in passages)
    assert "".join(p.text for p in passages) == sentence


def test_headings_without_text_become_text_of_the_section_above() -> None:
    blocks = [Block("目次", 1), Block("第1条(目的)", 4), Block("第2条(範囲)", 4), Block("第1章 総則", 1),
              Block("本文。")]
    assert [(p.heading_path, p.text) for p in build_passages(blocks)] == [
        (("目次",), "第1条(目的)\n第2条(範囲)"), (("第1章 総則",), "本文。")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("第5章 休暇等", (1, "第5章 休暇等", False)),
        ("第二節 賃金", (2, "第二節 賃金", False)),
        ("第1章総則", (1, "第1章 総則", False)),
        ("第23条 採用日から6か月間継続勤務し", (4, "第23条", True)),
        ("第 1条(目的)", (4, "第1条(目的)", False)),
        ("第24条の2 労使協定", (4, "第24条の2", True)),
        ("【第23条 年次有給休暇】", (4, "【第23条 年次有給休暇】", False)),
        ("【参考】", (5, "【参考】", False)),
        ("1. 概要", (6, "1. 概要", False)),
        ("2.3 お手入れの方法", (7, "2.3 お手入れの方法", False)),
        ("(1) 労働時間関係", (10, "(1) 労働時間関係", False)),
        ("Chapter 3 Troubleshooting", (1, "Chapter 3 Troubleshooting", False)),
        ("目 次", (1, "目 次", False)),
    ],
)
def test_heading_lines(line: str, expected: tuple[int, str, bool]) -> None:
    assert heading_of(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "第1章 総則...10",  # a contents line
        "第39条第1項に定める日数",  # a reference, not an article
        "第3章の規定により",
        "第26条)",
        "2 前項の規定にかかわらず、週所定労働時間30時間未満",  # a numbered clause (項)
        "1. 電源を切り、プラグを抜いてから本体を冷ますために十分な時間を置いてください。",
        "(2)時間単位年休を取得する場合の、1日の年次有給休暇に相当する時間数は、以",
        "1.5kg",
    ],
)
def test_lines_that_are_not_headings(line: str) -> None:
    assert heading_of(line) is None
