"""`kb migrate --to postgres+milvus|sqlite`: move a base onto the shared servers, or back."""

from __future__ import annotations

import click

from kb import resolve_index_dir
from kb.cli.context import Context


@click.command(name="migrate")
@click.option("--to", "to", type=click.Choice(["postgres+milvus", "sqlite"]), required=True,
              help="postgres+milvus: copy the embedded base at --index into KB_POSTGRES_URL and "
                   "KB_MILVUS_URI. sqlite: copy the base in KB_POSTGRES_URL into a new "
                   "embedded base at --index.")
@click.pass_obj
def migrate_command(obj: Context, to: str) -> None:
    """Copy the base (cases, vectors, tokens, manuals, feedback, drafts, audit log) without re-embedding."""
    from kb import migrate_to_servers, migrate_to_sqlite  # psycopg loads only for this command

    root = resolve_index_dir(obj.index)
    report = migrate_to_servers(root) if to != "sqlite" else migrate_to_sqlite(root)
    where = f"{root} to {to}" if to != "sqlite" else f"PostgreSQL to {root} (sqlite)"
    click.echo(f"移行しました / migrated {where}: {report.rows['cases']} cases, "
               f"{report.rows['chunks']} chunks, {report.rows['documents']} manuals "
               f"({report.rows['doc_chunks']} passages), {report.rows['feedback']} feedback, "
               f"{report.rows['audit_log']} audit events (state version {report.state_version})")
    click.echo("  next: KB_BACKEND=postgres+milvus kb check" if to != "sqlite" else
               f"  next: KB_BACKEND=sqlite kb --index {root} check")
