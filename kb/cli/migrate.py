"""`kb migrate --to postgres+milvus`: move an embedded base onto the shared servers."""

from __future__ import annotations

import click

from kb import resolve_index_dir
from kb.cli.context import Context


@click.command(name="migrate")
@click.option("--to", "to", type=click.Choice(["postgres+milvus"]), required=True,
              help="The backend to copy the base into (KB_POSTGRES_URL, KB_MILVUS_URI).")
@click.pass_obj
def migrate_command(obj: Context, to: str) -> None:
    """Copy the base (cases, vectors, tokens, feedback, audit log) without re-embedding."""
    from kb import migrate_to_servers  # pymilvus and psycopg load only for this command

    root = resolve_index_dir(obj.index)
    report = migrate_to_servers(root)
    click.echo(f"移行しました / migrated {root} to {to}: {report.rows['cases']} cases, "
               f"{report.rows['chunks']} chunks, {report.rows['feedback']} feedback, "
               f"{report.rows['audit_log']} audit events (state version {report.state_version})")
    if report.manuals_skipped:
        click.echo(f"  manuals not migrated (not supported on {to} yet): {report.manuals_skipped}")
    click.echo("  next: KB_BACKEND=postgres+milvus kb check")
