"""`kb audit` (who changed what) and `kb hash-password` (for the app's manager sign-in)."""

from __future__ import annotations

import json

import click

from kb import hash_password
from kb.cli.context import Context


@click.command(name="audit")
@click.option("--limit", "-n", default=50, show_default=True, type=click.IntRange(1, 100000),
              help="Newest N events.")
@click.option("--action", default=None,
              help="Only this action (ingest_ledger, ingest_cases, delete_cases, "
                   "ingest_document, delete_document, reindex, calibrate).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, newest first.")
@click.pass_obj
def audit_command(obj: Context, limit: int, action: str | None, as_json: bool) -> None:
    """Show the audit log: every write, who made it, when, and how much it changed."""
    with obj.open() as kb:
        events = kb.audit_events(limit, action)
    if as_json:
        for event in events:
            click.echo(json.dumps(event.to_dict(), ensure_ascii=False))
        return
    if not events:
        click.echo("監査ログは空です / the audit log is empty")
    for event in events:
        counts = ", ".join(f"{k} {v}" for k, v in event.counts.items() if v)
        target = f"  {event.target}" if event.target else ""
        detail = f"  ({event.detail})" if event.detail else ""
        click.echo(f"{event.at}  {event.actor}  {event.action}{target}"
                   f"{'  ' + counts if counts else ''}{detail}")


@click.command(name="hash-password")
@click.password_option("--password", prompt="Manager password", confirmation_prompt=True,
                       help="The password (prompted for, hidden, when omitted).")
def hash_password_command(password: str) -> None:
    """Print a salted hash for KB_MANAGER_PASSWORD_HASH or secrets' manager_password_hash."""
    if len(password) < 8:
        raise click.ClickException("use at least 8 characters")
    click.echo(hash_password(password))
