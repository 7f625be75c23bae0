"""The `kb` command end to end (click's runner, real base on disk)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli.main import main
from tests.conftest import FAKE_MODEL, ROWS


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _base(tmp_path: Path, ledger: Path) -> str:
    index = str(tmp_path / "cli-kb")
    code, out = run("--index", index, "ingest", str(ledger))
    assert code == 0, out
    assert f"{len(ROWS)} new" in out and "担当部署" in out  # metadata column is reported
    return index


def test_ingest_search_table_and_json(tmp_path: Path, ledger: Path) -> None:
    index = _base(tmp_path, ledger)
    code, out = run("--index", index, "search", "荷物が届かない", "-k", "3")
    assert code == 0
    assert "対応 response" in out and "再発防止策 prevention" in out
    assert out.splitlines()[0].lstrip().startswith("1. T-00")
    code, out = run("--index", index, "search", "ドアから異音", "--json", "-k", "2")
    data = json.loads(out)
    assert data["hits"][0]["id"] == "T-004"
    assert data["hits"][0]["case"]["prevention"] == "部品サプライヤー変更"


def test_batch_contract(tmp_path: Path, ledger: Path) -> None:
    index = _base(tmp_path, ledger)
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"_id": "q1", "text": "二重に請求された"}\n\n'
        '{"id": "q2", "query": "my package has not arrived"}\n'
        '{"_id": 3, "text": "ログインできない"}\n', encoding="utf-8")
    code, out = run("--index", index, "search", "--batch", str(queries), "--top-k", "2", "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query_id"] for line in lines] == ["q1", "q2", "3"]
    assert lines[0]["hits"][0]["id"] == "T-005"
    assert lines[1]["hits"][0]["id"] == "T-008"
    assert lines[2]["hits"][0]["id"] == "T-007"
    for line in lines:
        assert len(line["hits"]) == 2
        assert line["hits"][0]["score"] >= line["hits"][1]["score"]


def test_search_filters_from_the_command_line(tmp_path: Path, ledger: Path) -> None:
    index = _base(tmp_path, ledger)
    code, out = run("--index", index, "search", "届かない", "--json", "--escalated",
                    "--category", "配送遅延")
    assert [h["id"] for h in json.loads(out)["hits"]] == ["T-002"]
    code, out = run("--index", index, "search", "届かない", "--json", "--from", "2025/1/1")
    assert {h["case"]["date"][:4] for h in json.loads(out)["hits"]} == {"2025"}
    code, out = run("--index", index, "search", "届かない", "--from", "来月")
    assert code != 0 and "unreadable date" in out


def test_stats_delete_and_eval(tmp_path: Path, ledger: Path) -> None:
    index = _base(tmp_path, ledger)
    code, out = run("--index", index, "stats", "--json")
    stats = json.loads(out)
    assert stats["cases"] == len(ROWS) and stats["model"] == FAKE_MODEL
    assert ["配送遅延", 3] in stats["facets"]["category"]
    queries, qrels = tmp_path / "q.jsonl", tmp_path / "qrels.tsv"
    queries.write_text('{"_id": "a", "text": "ドアがギシギシ鳴る"}\n'
                       '{"_id": "b", "text": "二回請求された"}\n', encoding="utf-8")
    qrels.write_text("query-id\tcorpus-id\tscore\na\tT-004\t1\nb\tT-005\t1\n", encoding="utf-8")
    code, out = run("--index", index, "eval", "--queries", str(queries), "--qrels", str(qrels))
    assert code == 0, out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert set(rows) == {"hybrid", "dense", "lexical"}
    assert float(rows["hybrid"][0]) == 1.0  # Recall@1
    code, out = run("--index", index, "delete", "T-004")
    assert code == 0 and "deleted 1" in out
    code, out = run("--index", index, "search", "ギシギシ", "--mode", "lexical")
    assert "no matching past cases" in out


@pytest.mark.real_model  # `kb reindex --model` from USE to MiniLM, then a search on MiniLM
def test_model_mismatch_message_names_reindex(tmp_path: Path, ledger: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    index = _base(tmp_path, ledger)
    monkeypatch.delenv("KB_EMBEDDING_MODEL")  # from here on, the model the base names
    code, out = run("--index", index, "--model", "sentence-transformers/all-MiniLM-L6-v2",
                    "search", "荷物")
    assert code != 0
    assert "reindex --model" in out
    code, out = run("--index", index, "reindex", "--model", "sentence-transformers/all-MiniLM-L6-v2")
    assert code == 0 and "dim 384" in out
    code, out = run("--index", index, "search", "package not arrived", "--json", "-k", "1")
    assert json.loads(out)["hits"][0]["id"] == "T-008"


def test_search_on_missing_base_says_how_to_start(tmp_path: Path) -> None:
    code, out = run("--index", str(tmp_path / "none"), "search", "荷物")
    assert code != 0 and "kb ingest" in out


def test_python_dash_m_entry_point(tmp_path: Path, ledger: Path) -> None:
    import subprocess
    import sys

    index = _base(tmp_path, ledger)
    done = subprocess.run([sys.executable, "-m", "kb", "--index", index, "stats"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "cases" in done.stdout
