"""Manuals in the knowledge base: versioning by name, deletion everywhere, passages in search."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.errors import IngestError
from kb import KnowledgeBase
from kb.cli.main import main

MANUAL = """# 配送トラブル対応マニュアル

## 1. 荷物が届かないとき

お客様から荷物が届かないと申し出があった場合は、まず追跡番号で配送状況を確認する。
配送業者の営業所に保管されている場合は、当日中の再配達を手配する。

## 2. 誤配送のとき

別の商品が届いた場合は、正しい商品を至急発送し、誤って届いた商品は着払いで回収する。
"""

MANUAL_V2 = MANUAL.replace("当日中の再配達を手配する。", "当日中の再配達を手配し、お客様に折り返し連絡する。")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _count(kb: KnowledgeBase, table: str) -> int:
    return kb.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_manual_passages_come_back_beside_cases(kb: KnowledgeBase, tmp_path: Path) -> None:
    report = kb.ingest_document(_write(tmp_path, "delivery.md", MANUAL))
    assert (report.status, report.title) == ("new", "配送トラブル対応マニュアル")
    result = kb.search("荷物が届かない", top_k=3)
    assert result.hits and result.passages
    best = result.passages[0]
    assert best.document_id == "delivery.md"
    assert "追跡番号" in best.text
    assert best.heading_path[-1] == "1. 荷物が届かないとき"
    assert {"荷物", "届く"} <= set(best.matched_terms)
    assert kb.documents()[0].last_retrieved_at is not None  # for the stale list


def test_same_file_is_skipped_and_changed_file_replaces(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.ingest_document(_write(tmp_path, "delivery.md", MANUAL))
    chunks = _count(kb, "doc_chunks")
    again = kb.ingest_document(_write(tmp_path, "delivery.md", MANUAL))
    assert again.status == "unchanged"
    replaced = kb.ingest_document(_write(tmp_path, "delivery.md", MANUAL_V2))
    assert replaced.status == "replaced"
    assert kb.stats().documents == 1
    assert _count(kb, "doc_chunks") == chunks == _count(kb, "doc_chunks_fts")
    texts = " ".join(p.text for p in kb.search("再配達", mode="lexical").passages)
    assert "折り返し連絡" in texts
    assert len(kb.indexes.passage_vectors) == _count(kb, "doc_chunks")


def test_delete_removes_manual_from_every_index(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.ingest_document(_write(tmp_path, "delivery.md", MANUAL))
    assert kb.delete_document("delivery.md") is True
    assert kb.delete_document("delivery.md") is False
    assert (_count(kb, "documents"), _count(kb, "doc_chunks"), _count(kb, "doc_chunks_fts")) == (0, 0, 0)
    assert len(kb.indexes.passage_vectors) == 0
    assert kb.search("荷物が届かない").passages == []
    assert kb.stats().cases > 0  # cases untouched


def test_manual_upload_does_not_rebuild_the_cases_index(kb: KnowledgeBase, tmp_path: Path) -> None:
    cases_version = kb.indexes.cases.version
    kb.ingest_document(_write(tmp_path, "delivery.md", MANUAL))
    assert kb.indexes.cases.version == cases_version
    root = kb.layout.root
    kb.close()
    with KnowledgeBase.open(root) as reopened:  # both FAISS files load as they are
        assert reopened.docs.count() == 1
        assert len(reopened.indexes.passage_vectors) == _count(reopened, "doc_chunks") > 0
        assert reopened.search("誤配送", top_k=1).passages[0].heading_path[-1] == "2. 誤配送のとき"


def test_broken_file_is_refused_and_nothing_stored(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.ingest_document(_write(tmp_path, "delivery.md", MANUAL))
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="empty.pdf"):
        kb.ingest_document(empty)
    fake = tmp_path / "fake.pdf"
    fake.write_text("this is not a pdf", encoding="utf-8")
    with pytest.raises(IngestError, match="fake.pdf"):
        kb.ingest_document(fake)
    assert [d.id for d in kb.documents()] == ["delivery.md"]


def test_stale_lists_unused_and_old_manuals(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.ingest_document(_write(tmp_path, "old.md", "# 古い規程\n\n返品は七日以内とする。\n"))
    kb.ingest_document(_write(tmp_path, "delivery.md", MANUAL))
    assert kb.stale_documents(90, 12) == []
    long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=800)).isoformat(timespec="seconds")
    db: sqlite3.Connection = kb.store.db
    db.execute("UPDATE documents SET added_at = ?, updated_at = ? WHERE id = 'old.md'",
               (long_ago, long_ago))
    kb.search("荷物が届かない")  # delivery.md is used; old.md is not
    stale = {info.id: reason for info, reason in kb.stale_documents(90, 12)}
    assert stale == {"old.md": "unretrieved+unchanged"}


def test_cli_ingests_manuals_and_ledgers_from_one_folder(tmp_path: Path, ledger: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "ledger.csv").write_bytes(ledger.read_bytes())
    _write(folder, "delivery.md", MANUAL)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    index = str(tmp_path / "cli-kb")
    result = CliRunner().invoke(main, ["--index", index, "ingest", str(folder)])
    assert result.exit_code == 1  # one file failed ...
    assert "broken.pdf" in result.output
    assert "8 new" in result.output and "new manual '配送トラブル対応マニュアル'" in result.output
    again = CliRunner().invoke(main, ["--index", index, "ingest", str(folder / "delivery.md")])
    assert "unchanged" in again.output
    found = CliRunner().invoke(main, ["--index", index, "search", "誤配送", "--json"])
    assert '"document": "delivery.md"' in found.output
    gone = CliRunner().invoke(main, ["--index", index, "delete", "--document", "delivery.md"])
    assert gone.exit_code == 0 and "deleted 1 of 1 manual" in gone.output
    stale = CliRunner().invoke(main, ["--index", index, "stale"])
    assert stale.exit_code == 0 and "no manuals to review" in stale.output


def test_writer_sees_a_manual_another_process_added_meanwhile(kb: KnowledgeBase,
                                                             tmp_path: Path) -> None:
    from ingest.records import Case

    with KnowledgeBase.open(kb.layout.root) as other:
        other.ingest_document(_write(tmp_path, "delivery.md", MANUAL))
    kb.ingest_cases([Case(id="N-1", content="電子レンジの扉が閉まらない", date="2025-03-01")])
    passages = kb.search("誤配送で別の商品が届いた", mode="dense").passages
    assert passages and passages[0].document_id == "delivery.md"
    assert len(kb.indexes.passage_vectors) == _count(kb, "doc_chunks")


def test_a_long_pdf_reports_each_page_then_its_embedding(kb: KnowledgeBase, tmp_path: Path) -> None:
    """A 93-page manual sat at 「処理中… (1/1)」 for minutes: the bar now moves page by page,
    then passage batch by batch (issue 15, item 19)."""
    from kb.write.documents import PASSAGE_BATCH
    from tests.pdfgen import write_pdf

    pages = [[f"第{n}条 返品の受付", f"未使用品は受領後八日以内なら返品できる。条文{n}の説明。"]
             for n in range(1, 13)]
    seen: list[tuple[int, int, str]] = []
    report = kb.ingest_document(write_pdf(tmp_path / "rules.pdf", pages),
                                progress=lambda done, total, stage: seen.append((done, total, stage)))
    assert report.pages == 12
    assert [(d, t) for d, t, s in seen if s == "pages"] == [(n, 12) for n in range(1, 13)]
    embeds = [(d, t) for d, t, s in seen if s == "embed"]
    assert embeds and embeds[-1][0] == embeds[-1][1] == report.passages
    assert len(embeds) == -(-report.passages // PASSAGE_BATCH)
    stages = [s for _, _, s in seen]
    assert stages.index("embed") > max(i for i, s in enumerate(stages) if s == "pages")
