"""`kb check` finds disagreements and rebuilds the derived FAISS files; backup and restore
give a base that answers every search exactly as the original did."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import KnowledgeBase
from kb.cli.main import main
from tests.conftest import FAKE_MODEL

MANUAL = """# 配送トラブル対応マニュアル

## 荷物が届かない場合

追跡番号を確認し、配送業者へ調査を依頼する。お客様には調査結果の見込み日を伝える。

## 返金の手順

二重請求は決済システムで確認し、重複分を取り消して返金する。
"""
QUERIES = ("荷物が届かない", "二重に請求された", "電子レンジのドアから変な音がする", "Package not arrived")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _answers(base: KnowledgeBase) -> dict[str, object]:
    out: dict[str, object] = {}
    for query in QUERIES:
        for mode in ("hybrid", "dense", "lexical"):
            result = base.search(query, top_k=8, mode=mode)
            out[f"{mode}:{query}"] = ([(h.case.id, h.score) for h in result.hits],
                                      [(p.document_id, p.text, p.score) for p in result.passages])
    return out


def test_check_passes_on_a_healthy_base(kb: KnowledgeBase) -> None:
    code, out = run("--index", str(kb.layout.root), "check")
    assert code == 0, out
    assert "整合しています / consistent" in out and "NG" not in out
    assert "vectors.faiss: version" in out and "spot-checked" in out


def test_check_rebuilds_stale_missing_or_damaged_faiss(kb: KnowledgeBase, tmp_path: Path) -> None:
    index = str(kb.layout.root)
    old = tmp_path / "old.faiss"
    shutil.copyfile(kb.layout.vectors, old)
    kb.delete_cases(["T-003"])
    before = [(h.case.id, h.score) for h in kb.search("違う商品が届いた", mode="dense").hits]
    kb.close()
    for damage in ("stale", "missing", "unreadable"):
        if damage == "stale":  # the file of an earlier state: T-003 still in it
            shutil.copyfile(old, kb.layout.vectors)
        elif damage == "missing":
            kb.layout.vectors.unlink()
        else:
            kb.layout.vectors.write_bytes(kb.layout.vectors.read_bytes()[:200])
        code, out = run("--index", index, "check", "--no-repair")
        assert code == 1 and f"vectors.faiss: {damage}" in out and "不整合" in out, out
        code, out = run("--index", index, "check")
        assert code == 0 and "REPAIRED" in out and "rebuilt from SQLite" in out, out
        code, out = run("--index", index, "check", "--no-repair")
        assert code == 0, out
    with KnowledgeBase.open(index) as base:
        assert [(h.case.id, h.score) for h in base.search("違う商品が届いた", mode="dense").hits] \
            == before


def test_check_removes_leftover_temp_files(kb: KnowledgeBase) -> None:
    leftover = kb.layout.root / ".vectors.faiss.99999.tmp"
    leftover.write_bytes(b"half a file")
    code, out = run("--index", str(kb.layout.root), "check")
    assert code == 0 and "1 leftover temporary files" in out and not leftover.exists()


def test_check_fails_when_fts_and_chunks_disagree(kb: KnowledgeBase) -> None:
    db = sqlite3.connect(kb.layout.database)
    db.execute("DELETE FROM chunks_fts WHERE rowid = (SELECT min(id) FROM chunks)")
    db.commit()
    db.close()
    code, out = run("--index", str(kb.layout.root), "check", "--json")
    assert code == 1
    report = json.loads(out)
    fts = next(c for c in report["checks"] if c["name"] == "fts:chunks")
    assert not report["consistent"] and not fts["ok"] and not fts["repairable"]
    assert "1 chunks without FTS rows" in fts["detail"] and "kb restore" in fts["detail"]


def test_backup_while_open_restores_identical_search_results(kb: KnowledgeBase,
                                                               tmp_path: Path) -> None:
    manual = tmp_path / "配送マニュアル.md"
    manual.write_text(MANUAL, encoding="utf-8")
    kb.ingest_document(manual)
    kb.record_feedback("荷物が届かない", "T-002", helpful=True)
    original = _answers(kb)  # the base stays open (a reader) during the backup
    code, out = run("--index", str(kb.layout.root), "backup", str(tmp_path / "bk"))
    assert code == 0 and "8 cases, 1 manuals" in out, out
    record = json.loads((tmp_path / "bk" / "backup.json").read_text(encoding="utf-8"))
    assert record["cases"] == 8 and record["model"] == FAKE_MODEL
    assert record["faiss_files"] == ["vectors.faiss", "documents.faiss"]
    kb.ingest_ledger(manual.with_name("ledger.csv"))  # still usable afterwards

    restored = tmp_path / "fresh" / "kb"
    code, out = run("restore", str(tmp_path / "bk"), str(restored))
    assert code == 0 and "整合しています / consistent" in out, out
    with KnowledgeBase.open(restored, create=False) as base:
        assert _answers(base) == original

    code, out = run("restore", str(tmp_path / "bk"), str(restored))
    assert code == 1 and "already holds a knowledge base" in out and "--force" in out
    kb.delete_cases(["T-001"])
    code, out = run("--index", str(kb.layout.root), "backup", str(tmp_path / "bk2"))
    assert code == 0
    (tmp_path / "bk2" / "vectors.faiss").unlink()  # restore rebuilds what is missing
    code, out = run("restore", "--force", str(tmp_path / "bk2"), str(restored))
    assert code == 0 and "REPAIRED" in out, out
    with KnowledgeBase.open(restored, create=False) as base:
        assert base.get_case("T-001") is None and base.stats().cases == 7


def test_restore_refuses_a_damaged_backup(kb: KnowledgeBase, tmp_path: Path) -> None:
    code, _ = run("--index", str(kb.layout.root), "backup", str(tmp_path / "bk"))
    assert code == 0
    copy = tmp_path / "bk" / "kb.sqlite3"
    data = bytearray(copy.read_bytes())
    data[-100] ^= 0xFF
    copy.write_bytes(bytes(data))
    code, out = run("restore", str(tmp_path / "bk"), str(tmp_path / "new"))
    assert code == 1 and "does not match the checksum" in out
    assert not (tmp_path / "new" / "kb.sqlite3").exists()


def test_backup_on_the_server_backend_says_what_to_use(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """kb backup/restore copy the SQLite file; on postgres+milvus they point at pg_dump and
    kb migrate instead of "no knowledge base" (no server is needed to say so)."""
    monkeypatch.setenv("KB_BACKEND", "postgres+milvus")
    monkeypatch.setenv("KB_POSTGRES_URL", "postgresql://kb@127.0.0.1:1/kb")
    monkeypatch.setenv("KB_MILVUS_URI", "http://127.0.0.1:1")
    (tmp_path / "saved").mkdir()
    for args in (["backup", str(tmp_path / "copy")],
                 ["restore", str(tmp_path / "saved"), str(tmp_path / "kb")]):
        result = CliRunner().invoke(main, ["--index", str(tmp_path / "kb"), *args])
        assert result.exit_code != 0, result.output
        assert "pg_dump" in result.output and "kb migrate --to sqlite" in result.output, args
    assert not (tmp_path / "copy").exists() and not (tmp_path / "kb").exists()
