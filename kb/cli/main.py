"""`kb` command line: the group, its one error boundary, and the list of its commands.

This is the only place commands are registered; the modules that define them import
nothing from here (no import cycle).
"""

from __future__ import annotations

import sys

import click

from kb import KBError, set_actor
from kb.cli.admin import audit_command, hash_password_command
from kb.cli.cases import export_command, retire
from kb.cli.clusters import clusters
from kb.cli.context import ACTOR_HELP, INDEX_HELP, MODEL_HELP, Context, with_global_options
from kb.cli.ingest import ingest
from kb.cli.manage import calibrate_command, delete, documents, reindex, stale, stats
from kb.cli.migrate import migrate_command
from kb.cli.reliability import backup_command, check, restore_command
from kb.cli.search import evaluate, search
from kb.cli.terminal import PlainOutput, plain


class _Main(click.Group):
    """The one error boundary: a `KBError` from any command becomes its message, exit status 1.
    Everything printed passes `plain` (kb/cli/terminal.py): ledger text cannot drive the terminal."""

    def invoke(self, ctx: click.Context) -> object:
        stdout = sys.stdout
        sys.stdout = PlainOutput(stdout)
        try:
            return super().invoke(ctx)
        except KBError as exc:
            raise click.ClickException(plain(str(exc))) from None
        finally:
            sys.stdout = stdout


@click.group(cls=_Main)
@click.option("--index", envvar="KB_INDEX_DIR", default=None, metavar="DIR", help=INDEX_HELP)
@click.option("--model", envvar="KB_EMBEDDING_MODEL", default=None, help=MODEL_HELP)
@click.option("--actor", envvar="KB_ACTOR", default=None, help=ACTOR_HELP)
@click.pass_context
def main(ctx: click.Context, index: str | None, model: str | None, actor: str | None) -> None:
    """Complaint knowledge base (クレーム事例ナレッジベース)."""
    set_actor(actor)
    ctx.obj = Context(index, model)


COMMANDS: tuple[click.Command, ...] = (
    ingest, search, stats, delete, stale, documents, reindex, calibrate_command, evaluate,
    audit_command, hash_password_command, retire, export_command, clusters, check,
    backup_command, restore_command, migrate_command,
)
for _command in COMMANDS:
    main.add_command(with_global_options(_command))

if __name__ == "__main__":  # pragma: no cover
    main()
