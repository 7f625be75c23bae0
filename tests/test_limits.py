"""Over-limit input (file size, rows per file, field length) is refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.limits import LimitError
from ingest.records import Case
from kb import KnowledgeBase, Settings
from kb.cli.main import main
from tests.conftest import HEADERS, ROWS, write_ledger


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_file_over_the_upload_limit_is_refused_before_reading(tmp_path: Path) -> None:
    ledger = write_ledger(tmp_path / "big.csv")
    code, out = run("--index", str(tmp_path / "kb"), "ingest", str(ledger),
                    "--max-upload-mb", "0.0001")
    assert code == 1
    size = ledger.stat().st_size / 1024
    assert f"big.csv: the file is {size:.1f} KB, over the upload limit of 0.1 KB" in out
    assert "split it into smaller files" in out


def test_upload_limit_from_the_environment_applies_to_manuals_in_the_app_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_MAX_UPLOAD_MB", "1")
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        with pytest.raises(LimitError, match=r"manual\.md: the file is 1\.5 MB, over the upload "
                                             r"limit of 1\.0 MB \(KB_MAX_UPLOAD_MB\)"):
            kb.ingest_document(data=b"# x\n" + b"a" * (1024 * 1024 + 512 * 1024), name="manual.md")
        assert kb.documents() == []


def test_too_many_rows_refuses_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = write_ledger(tmp_path / "rows.csv")
    code, out = run("--index", str(tmp_path / "kb"), "ingest", str(ledger), "--max-rows", "5")
    assert code == 1
    assert f"rows.csv: {len(ROWS)} rows, over the limit of 5 rows per file (KB_MAX_ROWS)" in out
    monkeypatch.setenv("KB_MAX_ROWS", str(len(ROWS)))
    code, out = run("--index", str(tmp_path / "kb"), "ingest", str(ledger))
    assert code == 0 and f"{len(ROWS)} new" in out


def test_an_over_long_field_rejects_its_row_with_line_and_column(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[2][3] = "長い" * 60  # 120 characters of クレーム内容 on line 4
    ledger = write_ledger(tmp_path / "long.csv", rows)
    index = str(tmp_path / "kb")
    code, out = run("--index", index, "ingest", str(ledger), "--max-field-chars", "100")
    assert code == 1
    assert ("long.csv, line 4, column 'クレーム内容': 120 characters, over the limit of 100 "
            "per field (KB_MAX_FIELD_CHARS)") in out
    assert "nothing was written" in out
    code, out = run("--index", index, "ingest", str(ledger), "--max-field-chars", "100",
                    "--skip-invalid")
    assert code == 0 and f"{len(ROWS) - 1} new" in out and "1 rejected" in out
    with KnowledgeBase.open(index) as kb:
        assert kb.get_case("T-003") is None and kb.get_case("T-004") is not None


def test_a_single_case_with_an_over_long_field_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_MAX_FIELD_CHARS", "50")
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        with pytest.raises(LimitError, match="case X-1: field 'response': 51 characters"):
            kb.ingest_cases([Case(id="X-1", content="短い", response="あ" * 51)])
        assert kb.stats().cases == 0


def test_bad_limit_settings_are_named() -> None:
    assert Settings.from_env().limits(max_rows=3).max_rows == 3
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KB_MAX_ROWS", "many")
        with pytest.raises(ValueError, match="KB_MAX_ROWS='many' is not a number"):
            Settings.from_env()
    assert HEADERS[3] == "クレーム内容"  # the column the long-field test fills


def test_a_looser_limit_on_the_command_line_beats_the_default(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[0][3] = "届かない。" * 4100  # 20,500 characters: over the default of 20,000
    ledger = write_ledger(tmp_path / "long.csv", rows)
    code, out = run("--index", str(tmp_path / "kb"), "ingest", str(ledger))
    assert code == 1 and "20,500 characters, over the limit of 20,000" in out
    code, out = run("--index", str(tmp_path / "kb"), "ingest", str(ledger),
                    "--max-field-chars", "30000")
    assert code == 0 and f"{len(ROWS)} new" in out
