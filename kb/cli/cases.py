"""`kb retire` and `kb export`: case lifecycle and spreadsheets out (thin, over KnowledgeBase)."""

from __future__ import annotations

from pathlib import Path

import click

from kb import EXPORT_FORMATS as FORMATS
from kb import MODES, export
from kb.cli.context import Context


@click.command()
@click.argument("ids", nargs=-1)
@click.option("--undo", is_flag=True, help="Restore retired cases (戻す) instead.")
@click.option("--list", "list_only", is_flag=True, help="Only list the retired cases.")
@click.pass_obj
def retire(obj: Context, ids: tuple[str, ...], undo: bool, list_only: bool) -> None:
    """Retire cases (廃止): kept, but out of search and clusters until restored with --undo."""
    with obj.open() as kb:
        if list_only:
            for case, when in kb.retired_cases():
                click.echo(f"{case.id}\t{when}\t{case.title or case.content[:40]}")
            return
        if not ids:
            raise click.UsageError("name the case id(s) to retire (or --list)")
        done = kb.restore_cases(list(ids)) if undo else kb.retire_cases(list(ids))
    verb = "restored 復元" if undo else "retired 廃止"
    click.echo(f"{verb}: {len(done)} of {len(ids)} case(s)"
               + (f" ({', '.join(done)})" if done else ""))
    skipped = [i for i in ids if i not in done]
    if skipped:
        state = "not retired (or unknown)" if undo else "already retired or unknown"
        click.echo(f"skipped, {state}: {', '.join(skipped)}", err=True)
        raise SystemExit(1)


@click.command(name="export")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--query", default=None,
              help="Export only the cases this search returns (in rank order), not the whole base.")
@click.option("--top-k", "-k", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.pass_obj
def export_command(obj: Context, out: str, query: str | None, top_k: int, mode: str) -> None:
    """Write cases to OUT.csv (UTF-8 with BOM, for Excel) or OUT.xlsx, with Japanese headers.

    The file re-imports with `kb ingest` unchanged (same ids, same fields).
    """
    file_format = Path(out).suffix.lower().lstrip(".")
    if file_format not in FORMATS:
        raise click.BadParameter(f"'{out}': use a .csv or .xlsx file name", param_hint="OUT")
    with obj.open() as kb:
        cases = ([h.case for h in kb.search(query, top_k=top_k, mode=mode, passages=0).hits]
                 if query else kb.all_cases())
    Path(out).write_bytes(export(cases, file_format))
    click.echo(f"exported {len(cases)} case(s) to {out}")
