"""Looking after a base: `kb stats`, `delete`, `stale`, `documents`, `reindex`, `calibrate`."""

from __future__ import annotations

import json

import click

from kb import KnowledgeBase
from kb.cli.context import Context, progress_bar


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stats(obj: Context, as_json: bool) -> None:
    """Show what the knowledge base holds."""
    with obj.open() as kb:
        stats_, facets, dates = kb.stats(), kb.facets(), kb.date_range()
    if as_json:
        click.echo(json.dumps({**stats_.__dict__, "facets": facets, "date_range": dates},
                              ensure_ascii=False, indent=2))
        return
    for key, value in stats_.__dict__.items():
        click.echo(f"{key:>15}: {value}")
    click.echo(f"{'dates':>15}: {dates[0]} .. {dates[1]}")
    for name, values in facets.items():
        shown = ", ".join(f"{v} ({n})" for v, n in values[:12])
        click.echo(f"{name:>15}: {shown}{' …' if len(values) > 12 else ''}")


@click.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--document", "is_document", is_flag=True,
              help="The names are manuals (file names, e.g. manual.pdf), not case ids.")
@click.pass_obj
def delete(obj: Context, ids: tuple[str, ...], is_document: bool) -> None:
    """Delete cases by id, or manuals by name (from SQLite, FTS5 and FAISS)."""
    with obj.open() as kb:
        deleted = (sum(kb.delete_document(name) for name in ids) if is_document
                   else kb.delete_cases(list(ids)))
    click.echo(f"deleted {deleted} of {len(ids)} {'manual' if is_document else 'case'}(s)")
    if deleted < len(ids):
        raise SystemExit(1)


@click.command()
@click.option("--days", default=90, show_default=True,
              help="Not retrieved by any search for this many days.")
@click.option("--months", default=12, show_default=True,
              help="Not updated for this many months.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stale(obj: Context, days: int, months: int, as_json: bool) -> None:
    """Manuals to review (断捨離): unused lately or not updated for long."""
    with obj.open() as kb:
        items = kb.stale_documents(days, months)
    if as_json:
        click.echo(json.dumps([{"document": i.id, "title": i.title, "reason": r,
                                "updated_at": i.updated_at, "last_retrieved_at": i.last_retrieved_at}
                               for i, r in items], ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("見直し候補のマニュアルはありません / no manuals to review")
    for info, reason in items:
        click.echo(f"{info.id}  ({info.title})  {reason}: updated {info.updated_at[:10]}, "
                   f"last retrieved {(info.last_retrieved_at or 'never')[:10]}")


@click.command()
@click.pass_obj
def documents(obj: Context) -> None:
    """List stored manuals."""
    with obj.open() as kb:
        items = kb.documents()
    for info in items:
        pages = f"{info.pages} pages, " if info.pages else ""
        click.echo(f"{info.id}  {info.title}  ({info.file_type}, {pages}{info.chunks} passages, "
                   f"added {info.added_at[:10]}, last retrieved "
                   f"{(info.last_retrieved_at or 'never')[:10]})")
        for warning in info.warnings:
            click.echo(f"    warning: {warning}")


@click.command()
@click.option("--model", "new_model", default=None,
              help="Re-embed with this model (default: the base's own model).")
@click.pass_obj
def reindex(obj: Context, new_model: str | None) -> None:
    """Re-embed every case and rebuild the lexical index (e.g. to change model)."""
    # Opened with its own model: the point is to leave it, so a mismatch is no error here.
    with KnowledgeBase.open(obj.index, model=None, create=False) as kb:
        update, bar = progress_bar("reindex")
        try:
            kb.reindex(new_model or obj.model, progress=update)
        finally:
            bar.close()
        stats_ = kb.stats()
    click.echo(f"reindexed {stats_.chunks} chunks with {stats_.model} (dim {stats_.dim})")


@click.command(name="calibrate")
@click.pass_obj
def calibrate_command(obj: Context) -> None:
    """Re-tune the hybrid fusion weight from the base's own labels (分類/商品)."""
    with obj.open() as kb:
        update, bar = progress_bar("calibrate")
        result = kb.calibrate(progress=update)
        bar.close()
        prior = kb.stats().fusion_dense_prior
    if result is None:
        click.echo(f"no usable category/product labels; keeping the default dense prior {prior}")
        return
    scores = ", ".join(f"{p}: {v:.3f}" for p, v in result.ndcg.items())
    click.echo(f"dense prior {result.dense_prior} chosen on {result.queries} held-out cases "
               f"(similar = same {result.label}); nDCG@10 by prior: {scores}")
