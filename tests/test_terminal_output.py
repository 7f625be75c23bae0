"""Ledger text cannot drive the terminal (issue 16, item 7): escape sequences and control
characters in a case are stripped from what `kb` prints; `--json` keeps them, escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from kb.cli.main import main
from kb.cli.terminal import plain
from tests.conftest import HEADERS, ROWS, write_ledger

HOSTILE = ("\x1b]0;pwned\x07\x1b[2J\x1b[H\x1b]8;;http://evil.example/\x1b\\荷物\x1b]8;;\x1b\\"
           "\x1b[31mが届かない\x1b[0m\x08\x08\u202e表示と中身が違う\x9b2J")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _run(*args: str) -> str:
    # color=True: click strips nothing itself, as on a real terminal
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, color=True)
    assert result.exit_code == 0, result.output
    return result.output


def test_search_prints_no_escape_sequence_or_control_character(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[0][2] = HOSTILE  # 件名
    rows[0][3] = f"{HOSTILE} 注文した荷物が一週間たっても届かない。"
    index = str(tmp_path / "kb")
    _run("--index", index, "ingest", str(write_ledger(tmp_path / "l.csv", rows, HEADERS)))
    out = _run("--index", index, "search", "荷物が届かない", "-k", "3")
    assert "T-001" in out and "荷物が届かない表示と中身が違う" in out  # the words, without codes
    assert not CONTROL.findall(out), CONTROL.findall(out)
    data = json.loads(_run("--index", index, "search", "荷物が届かない", "-k", "3", "--json"))
    titles = [h["case"]["title"] for h in data["hits"]]
    assert any("\x1b]0;pwned" in t for t in titles)  # JSON keeps the data, escaped


def test_plain_keeps_text_tabs_and_newlines() -> None:
    assert plain("件名\tA\n次の行") == "件名\tA\n次の行"
    assert plain("\x1b[1;31m赤\x1b[0m\x1b]0;t\x07\x1bc") == "赤"
