"""Ledger upload in the app: encoding, mapping correction, preview, invalid rows, rejects."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from kb import KnowledgeBase
from tests.conftest import HEADERS, ROWS


def _page() -> None:
    from ui import ledgers
    from ui.state import knowledge_base

    ledgers.render(knowledge_base())


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def _csv(headers: list[str], rows: list[list[str]], encoding: str) -> bytes:
    frame = pd.DataFrame(rows, columns=headers)
    return frame.to_csv(index=False).encode(encoding)


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    return _ok(at.file_uploader(key="lg_upload").upload(name, data, "text/csv").run())


def _base(tmp_path: Path) -> Path:
    return tmp_path / "kb"  # conftest points KB_INDEX_DIR here


def test_cp932_ledger_with_japanese_headers_imports(tmp_path: Path) -> None:
    at = _ok(AppTest.from_function(_page, default_timeout=90).run())
    _upload(at, "苦情台帳2024.csv", _csv(HEADERS, ROWS, "cp932"))
    encoding = next(s for s in at.selectbox if s.key.endswith("_encoding"))
    assert encoding.value == "cp932" and "自動判定：cp932" in encoding.label
    mapped = {s.key.rsplit("_map_", 1)[1]: s.value for s in at.selectbox if "_map_" in s.key}
    assert mapped["content"] == "クレーム内容" and mapped["prevention"] == "再発防止策"
    assert mapped["date"] == "受付日" and mapped["severity"] == ""
    assert "担当部署" in at.caption[-1].value or any("担当部署" in c.value for c in at.caption)
    preview = at.dataframe[0].value
    assert list(preview["管理番号"])[:2] == ["T-001", "T-002"] and len(preview) == 8
    assert "新規 8 件・更新 0 件・変更なし 0 件・不備 0 行" in at.info[0].value
    _ok(next(b for b in at.button if b.key.endswith("_go")).click().run())
    assert "苦情台帳2024.csv：新規 8 件" in at.success[0].value.replace("\\", "")
    with KnowledgeBase.open(_base(tmp_path)) as kb:
        assert kb.stats().cases == 8
        assert kb.search("荷物が届かない", top_k=1).hits[0].case.category == "配送遅延"


def test_a_wrong_mapping_is_corrected_before_import(tmp_path: Path) -> None:
    # '内容' is an alias of the complaint text, but this office uses it for a short label
    # and keeps the complaint in '詳細説明', which no alias knows.
    headers = ["管理番号", "受付日", "内容", "詳細説明"]
    rows = [["W-1", "2024-04-01", "配送", "頼んだ本が二週間たっても届かない。"],
            ["W-2", "2024-04-02", "接客", "店員が質問に答えず、ため息をつかれた。"]]
    at = _ok(AppTest.from_function(_page, default_timeout=90).run())
    _upload(at, "ledger.csv", _csv(headers, rows, "utf-8"))
    content = next(s for s in at.selectbox if s.key.endswith("_map_content"))
    assert content.value == "内容"
    _ok(content.select("詳細説明").run())
    _ok(next(s for s in at.selectbox if s.key.endswith("_map_category")).select("内容").run())
    preview = at.dataframe[0].value
    assert list(preview["クレーム内容"]) == [r[3] for r in rows]
    assert list(preview["分類"]) == ["配送", "接客"]
    _ok(next(b for b in at.button if b.key.endswith("_go")).click().run())
    with KnowledgeBase.open(_base(tmp_path)) as kb:
        case = kb.get_case("W-2")
        assert (case.content, case.category) == (rows[1][3], "接客")


def test_a_column_mapped_twice_blocks_the_import(tmp_path: Path) -> None:
    at = _ok(AppTest.from_function(_page, default_timeout=90).run())
    _upload(at, "ledger.csv", _csv(HEADERS, ROWS, "utf-8"))
    _ok(next(s for s in at.selectbox if s.key.endswith("_map_title")).select("クレーム内容").run())
    assert "複数の項目に割り当てられています" in at.error[0].value
    assert not [b for b in at.button if b.key.endswith("_go")]


def test_invalid_rows_block_until_skipped_and_are_offered_as_rejects(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[2][1] = "2024/13/45"  # line 4: impossible date
    rows[5][3] = ""  # line 7: no complaint text
    at = _ok(AppTest.from_function(_page, default_timeout=90).run())
    _upload(at, "bad.csv", _csv(HEADERS, rows, "utf-8"))
    errors = at.dataframe[1].value
    assert list(errors["位置"]) == ["4 行目", "7 行目"]
    assert list(errors["列"]) == ["受付日", "クレーム内容"]
    assert list(errors["理由"]) == ["存在しない日付です：「2024/13/45」", "クレーム内容が空です"]
    assert "不備 2 行" in at.info[0].value
    assert any("何も書き込まれていません" in w.value for w in at.warning)
    go = next(b for b in at.button if b.key.endswith("_go"))
    assert go.disabled
    with KnowledgeBase.open(_base(tmp_path)) as kb:
        assert kb.stats().cases == 0
    _ok(next(c for c in at.checkbox if c.key.endswith("_skip")).check().run())
    _ok(next(b for b in at.button if b.key.endswith("_go")).click().run())
    assert "新規 6 件・更新 0 件・変更なし 0 件・除外 2 行" in at.success[0].value
    rejects = at.get("download_button")
    assert any(b.proto.label == "除外した行をダウンロード（CSV）" for b in rejects)
    with KnowledgeBase.open(_base(tmp_path)) as kb:
        assert kb.stats().cases == 6 and kb.get_case("T-003") is None


def test_the_dry_run_line_leaves_once_the_import_is_done(tmp_path: Path) -> None:
    at = _ok(AppTest.from_function(_page, default_timeout=90).run())
    _upload(at, "ledger.csv", _csv(HEADERS, ROWS, "utf-8"))
    assert any("取り込むと" in i.value for i in at.info)
    _ok(next(b for b in at.button if b.key.endswith("_go")).click().run())
    assert "ledger.csv：新規 8 件" in at.success[0].value.replace("\\", "")
    assert not any("取り込むと" in i.value for i in at.info)  # only the result, not the plan
    assert not [b for b in at.button if b.key.endswith("_go")]
    _upload(at, "ledger2.csv", _csv(HEADERS, ROWS[:2], "utf-8"))  # the next file: a new plan
    assert any("変更なし 2 件" in i.value for i in at.info)


def test_invalid_rows_read_in_english_in_the_english_ui(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[2][1] = "2024/13/45"
    at = _ok(AppTest.from_function(_page, default_timeout=90).run())
    at.session_state["lang"] = "en"
    _upload(at, "bad.csv", _csv(HEADERS, rows, "utf-8"))
    errors = at.dataframe[1].value
    assert list(errors["Where"]) == ["line 4"]
    assert list(errors["Reason"]) == ["no such date '2024/13/45'"]


def test_wrong_encoding_choice_is_explained(tmp_path: Path) -> None:
    at = _ok(AppTest.from_function(_page, default_timeout=90).run())
    _upload(at, "sjis.csv", _csv(HEADERS, ROWS, "cp932"))
    _ok(next(s for s in at.selectbox if s.key.endswith("_encoding")).select("utf-8").run())
    message = at.error[0].value.replace("\\", "")
    assert "sjis.csv を読み込めません" in message and "not valid utf-8" in message


def test_export_buttons_and_retired_list(tmp_path: Path, ledger: Path) -> None:
    with KnowledgeBase.open(_base(tmp_path)) as kb:
        kb.ingest_ledger(ledger)
        kb.retire_cases(["T-002"])
    at = _ok(AppTest.from_function(_page, default_timeout=90).run())
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["CSV（UTF-8 BOM 付き）", "Excel（XLSX）"]
    assert "有効な事例 7 件" in " ".join(c.value for c in at.caption)
    retired = at.dataframe[0].value
    assert list(retired["管理番号"]) == ["T-002"]
    _ok(at.multiselect(key="lg_restore_ids").select("T-002").run())
    _ok(at.button(key="lg_restore").click().run())
    assert "1 件を復元しました" in at.success[0].value
    with KnowledgeBase.open(_base(tmp_path)) as kb:
        assert kb.stats().retired == 0


def test_an_exported_workbook_uploads_with_no_changes(tmp_path: Path, ledger: Path) -> None:
    from kb.outputs.export import export

    with KnowledgeBase.open(_base(tmp_path)) as kb:
        kb.ingest_ledger(ledger)
        workbook = export(kb.all_cases(), "xlsx")
    at = _ok(AppTest.from_function(_page, default_timeout=90).run())
    _ok(at.file_uploader(key="lg_upload").upload("complaint-cases.xlsx", workbook,
                                                  "application/octet-stream").run())
    assert not [s for s in at.selectbox if s.key.endswith("_encoding")]  # not a text file
    assert "新規 0 件・更新 0 件・変更なし 8 件・不備 0 行" in at.info[0].value
    _ok(next(b for b in at.button if b.key.endswith("_go")).click().run())
    assert "新規 0 件・更新 0 件・変更なし 8 件・除外 0 行" in at.success[0].value


def test_with_a_manager_password_the_page_asks_for_sign_in_first(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KB_MANAGER_PASSWORD", "kanri-2026")
    at = _ok(AppTest.from_function(_page, default_timeout=90).run())
    assert not [u for u in at.get("file_uploader")]  # staff see no upload
    assert not at.get("download_button")  # nor a bulk export
    at.text_input(key="ledgers_auth_name").input("佐藤")
    at.text_input(key="ledgers_auth_password").input("wrong")
    _ok(at.button[0].click().run())
    assert "パスワードが違います" in at.error[0].value
    at.text_input(key="ledgers_auth_name").input("佐藤")
    at.text_input(key="ledgers_auth_password").input("kanri-2026")
    _ok(at.button[0].click().run())
    _upload(at, "ledger.csv", _csv(HEADERS, ROWS, "utf-8"))
    _ok(next(b for b in at.button if b.key.endswith("_go")).click().run())
    with KnowledgeBase.open(_base(tmp_path)) as kb:
        [event] = kb.audit_events(action="ingest_ledger")
        assert (event.actor, event.action, event.counts["new"]) == ("佐藤", "ingest_ledger", 8)
