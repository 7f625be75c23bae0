"""`kb ingest`: ledgers and manuals, files or folders; a broken file is reported, not fatal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from ingest.documents import DOCUMENT_SUFFIXES
from ingest.errors import IngestError
from ingest.fields import map_headers
from ingest.limits import Limits
from ingest.masking import NO_MASKING, MaskPolicy, describe_counts
from ingest.tables import LEDGER_SUFFIXES
from kb import Fanout, IngestReport, KnowledgeBase, Settings
from kb.cli.context import Context, progress_bar
from kb.cli.terminal import plain


def _input_files(paths: tuple[str, ...]) -> Iterator[Path]:
    """Files given, and the ledgers and manuals inside folders given."""
    known = set(LEDGER_SUFFIXES) | set(DOCUMENT_SUFFIXES)
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in known
                              and not p.name.endswith(".rejected.csv") and p.is_file())
        else:
            yield path


def _is_ledger(path: Path) -> bool:
    """Tables are ledgers; PDF/Word/Markdown/HTML are manuals; a .txt is a ledger only if its
    first line is a header naming a complaint-text column."""
    suffix = path.suffix.lower()
    if suffix != ".txt":
        return suffix in LEDGER_SUFFIXES
    try:
        first = path.open(encoding="utf-8-sig", errors="replace").readline()
    except OSError:
        return False
    cells = first.rstrip("\r\n").split("\t" if "\t" in first else ",")
    return len(cells) > 1 and "content" in map_headers(cells)


def _parse_maps(maps: tuple[str, ...]) -> dict[str, str]:
    """--map FIELD=COLUMN pairs; a malformed one is a usage error naming it."""
    out: dict[str, str] = {}
    for item in maps:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise click.BadParameter(f"'{item}' is not FIELD=COLUMN", param_hint="--map")
        out[field.strip()] = column.strip()
    return out


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN",
              help="Map a case field to a column, e.g. --map content=本文 (repeatable).")
@click.option("--skip-invalid", is_flag=True,
              help="Ingest the valid rows and write rejected rows to NAME.rejected.csv.")
@click.option("--no-mask", is_flag=True,
              help="Keep phone numbers, e-mail addresses, postal codes, card numbers and names "
                   "(masked by default).")
@click.option("--mask-column", "mask_columns", multiple=True, metavar="COLUMN",
              help="Also mask this column's values whole as a name (repeatable).")
@click.option("--keep-names-in-text", is_flag=True,
              help="Do not mask names found in free text by honorific or label (山田太郎様, 担当：佐藤).")
@click.option("--max-upload-mb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Largest file accepted [env KB_MAX_UPLOAD_MB; default 50].")
@click.option("--max-rows", type=click.IntRange(min=1), default=None,
              help="Most rows per ledger [env KB_MAX_ROWS; default 200000].")
@click.option("--max-field-chars", type=click.IntRange(min=1), default=None,
              help="Longest cell; longer rows are rejected [env KB_MAX_FIELD_CHARS; default 20000].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Embed ledgers on N local processes [default: KB_EMBED_WORKERS, else one "
                   "per core for large ingests].")
@click.option("--dask", "dask", metavar="ADDRESS", default=None,
              help="Embed ledgers on the Dask cluster of this scheduler (tcp://host:8786).")
@click.pass_obj
def ingest(obj: Context, paths: tuple[str, ...], maps: tuple[str, ...], skip_invalid: bool,
           no_mask: bool, mask_columns: tuple[str, ...], keep_names_in_text: bool,
           max_upload_mb: float | None, max_rows: int | None, max_field_chars: int | None,
           workers: int | None, dask: str | None) -> None:
    """Ingest complaint ledgers (CSV/TSV/XLSX/JSON/JSONL), files or folders."""
    fanout = Fanout(workers, dask)
    overrides = _parse_maps(maps)
    masking = (NO_MASKING if no_mask else MaskPolicy(names_in_text=not keep_names_in_text)
               .with_columns(mask_columns))
    limits = Settings.from_env().limits(max_upload_mb, max_rows, max_field_chars)
    failed = 0
    run_ids: dict[str, str] = {}  # a case id in two files of this run is a conflict
    with obj.open(create=True) as kb:
        for path in _input_files(paths):
            if not _is_ledger(path):
                failed += not _ingest_document(kb, path, limits)
                continue
            update, bar = progress_bar(path.name)
            try:
                report = kb.ingest_ledger(path, overrides, skip_invalid, progress=update,
                                          masking=masking, limits=limits, run_ids=run_ids,
                                          fanout=fanout)
            except IngestError as exc:  # this file is refused; the others still go in
                failed += 1
                click.echo(plain(f"error: {exc}"), err=True)
                continue
            finally:
                bar.close()
            _echo_ledger_report(path, report)
        stats = kb.stats()
    click.echo(f"knowledge base {stats.directory}: {stats.cases} cases, {stats.chunks} chunks, "
               f"{stats.documents} manuals")
    if failed:
        raise SystemExit(1)


def _echo_ledger_report(path: Path, report: IngestReport) -> None:
    """What one ledger brought: counts, the column mapping, masking, metadata, rejects."""
    ledger = report.ledger
    assert ledger is not None
    mapping = ", ".join(f"{col}→{field}" for field, col in ledger.mapping.items())
    click.echo(f"{path}: {report.new} new, {report.updated} updated, "
               f"{report.unchanged} unchanged, {report.rejected} rejected "
               f"({ledger.file_format}, {ledger.encoding})")
    click.echo(f"  columns: {mapping}")
    if report.resumed:
        click.echo(f"  中断した取り込みの続きから / resumed an interrupted ingest: {report.resumed} "
                   f"vectors reused, {report.embedded} embedded")
    if masked := describe_counts(report.masked):
        click.echo(f"  {masked}")
    if ledger.metadata_columns:
        click.echo(f"  kept as metadata: {', '.join(ledger.metadata_columns)}")
    if report.rejects_file:
        click.echo(f"  rejected rows written to {report.rejects_file}:")
        for error in ledger.errors[:10]:
            click.echo(f"    - {error}")
        if len(ledger.errors) > 10:
            click.echo(f"    ... and {len(ledger.errors) - 10} more")


def _ingest_document(kb: KnowledgeBase, path: Path, limits: Limits) -> bool:
    """Ingest one manual and say what happened; False (and a message) if it was refused."""
    update, bar = progress_bar(path.name)
    try:
        limits.check_size(str(path), path.stat().st_size)
        report = kb.ingest_document(path, progress=update)
    except IngestError as exc:  # reported like a refused ledger; the batch goes on
        click.echo(plain(f"error: {exc}"), err=True)
        return False
    finally:
        bar.close()
    pages = f"{report.pages} pages, " if report.pages else ""
    if report.status == "unchanged":
        click.echo(f"{path}: unchanged (identical to the stored '{report.name}'), skipped")
    else:
        click.echo(f"{path}: {report.status} manual '{report.title}' ({pages}"
                   f"{report.passages} passages)")
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")
    return True
