"""`kb check`, `kb backup`, `kb restore`: a thin layer over kb/ops

A refused backup or restore (BackupError) reaches the group's error boundary as its message.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb import CheckReport, backup, check_base, resolve_index_dir, restore
from kb.cli.context import Context

_NAMES = {"schema": "スキーマ schema", "sqlite": "SQLite 整合性 integrity",
          "fts:chunks": "全文索引 FTS5 (cases)", "fts:doc_chunks": "全文索引 FTS5 (manuals)",
          "faiss:vectors.faiss": "ベクトル索引 FAISS (cases)",
          "faiss:documents.faiss": "ベクトル索引 FAISS (manuals)",
          "temp-files": "一時ファイル temp files", "database": "データベース database"}


def _echo_report(report: CheckReport) -> None:
    """One line per finding, then the verdict (and how to repair, when it can be)."""
    for finding in report.findings:
        mark = "OK" if finding.ok else ("修復 REPAIRED" if finding.repaired else "NG FAILED")
        click.echo(f"[{mark}] {_NAMES.get(finding.name, finding.name)}: {finding.detail}")
    if report.consistent:
        click.echo(f"整合しています / consistent: {report.root}")
    else:
        hint = " (run without --no-repair to rebuild the FAISS files)" if any(
            f.repairable and not f.repaired for f in report.findings) else ""
        click.echo(f"不整合があります / inconsistent: {report.root}{hint}")


@click.command()
@click.option("--repair/--no-repair", default=True, show_default=True,
              help="Rebuild missing, stale or damaged FAISS files from SQLite (the only part "
                   "that can be repaired: it is derived).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def check(obj: Context, repair: bool, as_json: bool) -> None:
    """Check that SQLite, FTS5 and FAISS agree (counts, ids, vectors); exit 1 if they do not."""
    report = check_base(resolve_index_dir(obj.index), repair=repair)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        _echo_report(report)
    if not report.consistent:
        raise SystemExit(1)


@click.command(name="backup")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def backup_command(obj: Context, target: Path) -> None:
    """Copy the base into TARGET (a new or empty folder) while it stays in use."""
    record = backup(resolve_index_dir(obj.index), target)
    click.echo(f"バックアップしました / backed up to {target}: {record.cases} cases, "
               f"{record.documents} manuals, state version {record.state_version}, "
               f"model {record.model}")


@click.command(name="restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the base (or files) already in TARGET.")
def restore_command(source: Path, target: Path, force: bool) -> None:
    """Restore the backup in SOURCE as the base in TARGET, then check it."""
    record, report = restore(source, target, force=force)
    click.echo(f"復元しました / restored {record.cases} cases, {record.documents} manuals "
               f"(state version {record.state_version}, backed up {record.created_at}) to {target}")
    _echo_report(report)
    if not report.consistent:
        raise SystemExit(1)
