"""The `kb` command's package: global options anywhere, one error boundary, no import cycle."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kb import KBError
from kb.cli.main import main
from tests.conftest import ROOT

CLI = ROOT / "kb" / "cli"
COMMANDS = {"audit", "backup", "calibrate", "check", "clusters", "delete", "documents", "eval",
            "export", "hash-password", "ingest", "migrate", "reindex", "restore", "retire", "search",
            "stale", "stats"}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """Each import in a file as (module, names it takes from it); relative ones resolved."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-node.level])
                base = f"{package}.{base}" if base else package
            found.append((base, [alias.name for alias in node.names]))
    return found


def _modules(path: Path) -> set[str]:
    """Every module a file imports (`from kb.cli import main` counts as kb.cli.main)."""
    return {name for module, names in _imports(path)
            for name in (module, *(f"{module}.{n}" for n in names))}


def test_global_options_work_after_the_subcommand(tmp_path: Path, ledger: Path) -> None:
    index = tmp_path / "after"
    code, out = run("ingest", str(ledger), "--index", str(index), "--actor", "鈴木")
    assert code == 0, out
    assert index.is_dir() and not (tmp_path / "kb").exists()  # not the KB_INDEX_DIR default
    code, out = run("search", "荷物が届かない", "--index", str(index), "--json")
    assert code == 0, out
    hits = json.loads(out)["hits"]
    assert hits and hits[0]["case"]["category"] == "配送遅延"
    code, out = run("audit", "--json", "--index", str(index))
    assert code == 0 and json.loads(out.splitlines()[0])["actor"] == "鈴木"


def test_the_option_after_the_subcommand_wins(tmp_path: Path, ledger: Path) -> None:
    base, missing = str(tmp_path / "b"), str(tmp_path / "a")
    assert run("--index", base, "ingest", str(ledger))[0] == 0
    code, out = run("--index", missing, "stats", "--index", base, "--json")
    assert code == 0, out
    assert Path(json.loads(out)["directory"]) == Path(base)
    code, out = run("--index", base, "stats", "--index", missing)
    assert code == 1 and "kb ingest" in out  # the missing base, named by the later option


def test_one_error_boundary_turns_kb_errors_into_messages() -> None:
    @click.command(name="boom")
    def boom() -> None:
        raise KBError("what went wrong, and what to do")

    main.add_command(boom)
    try:
        code, out = run("boom")
    finally:
        main.commands.pop("boom")
    assert code == 1 and out == "Error: what went wrong, and what to do\n"


def test_a_bad_setting_is_a_message(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_MAX_ROWS", "many")
    code, out = run("ingest", str(ledger))
    assert code == 1 and "KB_MAX_ROWS='many' is not a number" in out


def test_help_lists_every_command() -> None:
    code, out = run("--help")
    assert code == 0
    listed = {line.split()[0] for line in out.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert listed == COMMANDS == set(main.commands)


def test_every_command_defined_is_registered() -> None:
    import importlib

    registered = set(map(id, main.commands.values()))
    defined = 0
    for path in sorted(CLI.glob("*.py")):
        module = importlib.import_module(f"kb.cli.{path.stem}")
        for name, value in vars(module).items():
            if (isinstance(value, click.Command) and value is not main
                    and getattr(value.callback, "__module__", None) == module.__name__):
                defined += 1
                assert id(value) in registered, f"{path.name}: {name} is not in kb.cli.main"
    assert defined == len(COMMANDS)


def test_only_the_entry_points_import_the_group() -> None:
    allowed = {CLI / "__init__.py", CLI / "main.py", ROOT / "kb" / "__main__.py"}
    for path in sorted((ROOT / "kb").rglob("*.py")):
        if path not in allowed:
            assert "kb.cli.main" not in _modules(path), f"{path} imports kb.cli.main"


def test_the_cli_uses_only_the_public_kb_surface() -> None:
    import kb

    for path in sorted(CLI.glob("*.py")):
        for module, names in _imports(path):
            if module == "kb":
                assert set(names) <= set(kb.__all__), f"{path.name}: {names}"
            elif module.split(".")[0] == "kb":
                assert module.startswith("kb.cli."), f"{path.name}: {module}"
    for package in ("kb", "ingest"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if CLI not in path.parents:
                assert "click" not in {m.split(".")[0] for m in _modules(path)}, path


def test_cli_modules_and_functions_stay_small() -> None:
    for path in sorted(CLI.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 250, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                assert node.end_lineno is not None
                assert node.end_lineno - start + 1 <= 60, f"{path.name}: {node.name}"
