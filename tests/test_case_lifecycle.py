"""Edit, retire, restore and export cases through the knowledge base and the CLI (real parts)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ingest.case_form import case_from_form, new_case_id
from kb import KnowledgeBase
from kb.cli.main import main
from kb.ops.check import check_base
from kb.outputs.export import COLUMNS, export
from kb.storage.filters import Filters
from kb.storage.selection import load_selection

MODES = ("hybrid", "dense", "lexical")


def _ids(kb: KnowledgeBase, query: str, mode: str, k: int = 8) -> list[str]:
    return [h.case.id for h in kb.search(query, top_k=k, mode=mode).hits]


def test_retired_case_leaves_search_clusters_and_facets_and_comes_back(kb: KnowledgeBase) -> None:
    query = "ケトルを注文したのに電子レンジが届いた"
    for mode in MODES:
        assert _ids(kb, query, mode)[0] == "T-003"
    assert kb.retire_cases(["T-003", "T-003", "nope"]) == ["T-003"]
    for mode in MODES:
        assert "T-003" not in _ids(kb, query, mode, k=8), mode
    assert "誤配送" not in dict(kb.facets()["category"])  # T-003 was its only case
    stats = kb.stats()
    assert (stats.cases, stats.retired) == (7, 1)
    assert "T-003" not in {r.id for r in load_selection(kb.layout.database, Filters()).rows}
    assert kb.get_case("T-003") is not None and kb.retired_at("T-003")  # kept
    assert [c.id for c, _ in kb.retired_cases()] == ["T-003"]
    assert kb.retire_cases(["T-003"]) == []  # already retired

    assert check_base(kb.layout.root, repair=False).consistent  # a retired case is consistent, not broken

    assert kb.restore_cases(["T-003"]) == ["T-003"]
    for mode in MODES:
        assert _ids(kb, query, mode)[0] == "T-003", mode
    assert kb.stats().retired == 0 and kb.retired_at("T-003") is None


def test_retire_touches_only_that_case_in_the_indexes(kb: KnowledgeBase) -> None:
    before = kb.store.chunks_of([f"T-00{i}" for i in range(1, 9)])
    vectors = len(kb.index)
    embedded = len(kb.store.chunks_of(["T-004"], with_vector=True)["T-004"])
    kb.retire_cases(["T-004"])
    after = kb.store.chunks_of([f"T-00{i}" for i in range(1, 9)])
    assert "T-004" not in after
    assert {c: ids for c, ids in before.items() if c != "T-004"} == after  # others untouched
    assert len(kb.index) == vectors - embedded
    fts = kb.store.db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    assert fts == sum(len(ids) for ids in after.values())


def test_reimported_ledger_keeps_a_retired_case_retired(kb: KnowledgeBase, ledger: Path) -> None:
    kb.retire_cases(["T-006"])
    text = ledger.read_text(encoding="utf-8").replace("応対研修の実施", "応対研修と録音の確認")
    ledger.write_text(text, encoding="utf-8")
    report = kb.ingest_ledger(ledger)
    assert (report.updated, report.unchanged) == (1, 7)
    assert kb.get_case("T-006").prevention == "応対研修と録音の確認"
    assert kb.retired_at("T-006")
    assert "T-006" not in _ids(kb, "担当者の言い方が高圧的で話を聞いてもらえない", "hybrid")


def test_edit_re_embeds_only_the_edited_case(kb: KnowledgeBase) -> None:
    case = kb.get_case("T-002")
    others = kb.store.chunks_of(["T-001", "T-003", "T-005"])
    edited = dataclasses.replace(case, prevention="出荷遅れを毎朝点検し、遅れる注文は先に連絡する")
    report = kb.ingest_cases([edited])
    assert (report.updated, report.embedded) == (1, 0)  # complaint text unchanged: no re-embedding
    assert kb.store.chunks_of(["T-001", "T-003", "T-005"]) == others
    assert _ids(kb, "毎朝点検", "lexical")[0] == "T-002"


def test_case_form_rules() -> None:
    values = {"date": dt.date(2026, 11, 30), "time": dt.time(14, 5), "content": " 商品が壊れていた ",
              "status": "対応中", "escalated": None}
    case, problems = case_from_form(values, "R1")
    assert problems == {} and case.date == "2026-11-30 14:05" and case.content == "商品が壊れていた"
    assert case_from_form({**values, "content": "  "}, "R1")[1] == {"content": "required"}
    assert case_from_form({**values, "date": None}, "R1")[1] == {"date": "required"}
    done = case_from_form({**values, "status": "対応済"}, "R1")[1]
    assert done == {"response": "required_when_done"}
    assert new_case_id() != new_case_id()


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_export_reimports_with_no_changes(sample_base: Path, tmp_path: Path, file_format: str) -> None:
    with KnowledgeBase.open(sample_base) as kb:  # SAMPLE_LEDGER ingested (a session template's copy)
        tricky = dataclasses.replace(kb.get_case("C-2023-0001"), id="X-1", date="2024-05-01 09:30",
                                     content="=HYPERLINK(\"x\") と書かれた紙が同梱\n二行目",
                                     escalated=None, metadata={"担当部署": "物流部", "備考": "-5"})
        kb.ingest_cases([tricky])
        kb.retire_cases(["C-2023-0002"])
        out = tmp_path / f"all.{file_format}"
        out.write_bytes(export(kb.all_cases(), file_format))
        report = kb.ingest_ledger(out)
        assert (report.new, report.updated, report.rejected) == (0, 0, 0)
        assert report.unchanged == kb.stats().cases == 360  # 360 + X-1 - retired C-2023-0002
        assert kb.get_case("X-1") == tricky  # unchanged rows are not rewritten
    if file_format == "xlsx":
        sheet = load_workbook(out).active
        assert [c.value for c in sheet[1]][: len(COLUMNS)] == [h for _, h in COLUMNS]
        formula = next(c for c in sheet["D"] if str(c.value).startswith("=HYPERLINK"))
        assert formula.data_type == "s"  # text, never a live formula
    else:
        raw = out.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
        assert "'=HYPERLINK" in raw.decode("utf-8-sig")


def test_cli_retire_export_and_restore(tmp_path: Path, ledger: Path) -> None:
    index = str(tmp_path / "kb")
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        done = runner.invoke(main, ["--index", index, *args])
        return done.exit_code, done.output

    assert run("ingest", str(ledger))[0] == 0
    code, out = run("retire", "T-001", "T-404")
    assert code == 1 and "retired 廃止: 1 of 2" in out and "T-404" in out
    code, out = run("retire", "--list")
    assert code == 0 and out.startswith("T-001\t")
    code, out = run("export", str(tmp_path / "cases.xlsx"))
    assert code == 0 and "exported 7 case(s)" in out
    code, out = run("export", str(tmp_path / "hits.csv"), "--query", "荷物が届かない", "-k", "2")
    assert code == 0 and "exported 2 case(s)" in out
    assert (tmp_path / "hits.csv").read_text(encoding="utf-8-sig").splitlines()[0].startswith(
        "管理番号,発生日時,件名,クレーム内容")
    code, out = run("export", str(tmp_path / "cases.pdf"))
    assert code == 2 and ".csv or .xlsx" in out
    code, out = run("retire", "--undo", "T-001")
    assert code == 0 and "restored 復元: 1 of 1" in out
