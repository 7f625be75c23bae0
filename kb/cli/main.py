"""`kb` command line: a thin layer over KnowledgeBase that turns errors into messages."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from ingest.documents import DOCUMENT_SUFFIXES
from ingest.errors import IngestError
from ingest.fields import map_headers
from ingest.limits import Limits
from ingest.masking import NO_MASKING, MaskPolicy, describe_counts
from ingest.tables import LEDGER_SUFFIXES
from kb import (
    DEFAULT_FUSION,
    FUSIONS,
    MODES,
    EmbedderError,
    Filters,
    KnowledgeBase,
    KnowledgeBaseError,
    Progress,
    Query,
    SearchResult,
    Settings,
    WriterLockTimeout,
    load_qrels,
    load_queries,
    mean_metrics,
    set_actor,
)

_LABELS = {"cause": "原因 cause", "response": "対応 response", "prevention": "再発防止策 prevention"}


def _progress_bar(desc: str) -> tuple[Progress, object]:
    """A tqdm bar on stderr, advanced by the core's progress callback."""
    from tqdm import tqdm

    bar = tqdm(total=0, desc=desc, unit="item", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())
    state = {"stage": ""}

    def update(done: int, total: int, stage: str) -> None:
        if stage != state["stage"]:
            state["stage"] = stage
            bar.reset(total=total)
            bar.set_description(f"{desc}: {stage}")
        bar.n = done
        bar.refresh()

    return update, bar


class Context:
    def __init__(self, index: str | None, model: str | None) -> None:
        self.index, self.model = index, model

    def open(self, create: bool = False) -> KnowledgeBase:
        try:
            return KnowledgeBase.open(self.index, model=self.model, create=create)
        except (KnowledgeBaseError, EmbedderError) as exc:
            raise click.ClickException(str(exc)) from None


class _Main(click.Group):
    """Turns a writer-lock timeout, in any command, into a message and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except WriterLockTimeout as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Main)
@click.option("--index", envvar="KB_INDEX_DIR", default=None, metavar="DIR",
              help="Knowledge-base directory [env KB_INDEX_DIR; default indexes/default].")
@click.option("--model", envvar="KB_EMBEDDING_MODEL", default=None,
              help="Embedding model: use-multilingual-v3 (default) or a sentence-transformers "
                   "id/path [env KB_EMBEDDING_MODEL].")
@click.option("--actor", envvar="KB_ACTOR", default=None,
              help="Name recorded in the audit log for writes [env KB_ACTOR; default: OS user].")
@click.pass_context
def main(ctx: click.Context, index: str | None, model: str | None, actor: str | None) -> None:
    """Complaint knowledge base (クレーム事例ナレッジベース)."""
    set_actor(actor)
    ctx.obj = Context(index, model)


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
    out: dict[str, str] = {}
    for item in maps:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise click.BadParameter(f"'{item}' is not FIELD=COLUMN", param_hint="--map")
        out[field.strip()] = column.strip()
    return out


@main.command()
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
@click.option("--max-upload-mb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Largest file accepted [env KB_MAX_UPLOAD_MB; default 50].")
@click.option("--max-rows", type=click.IntRange(min=1), default=None,
              help="Most rows per ledger [env KB_MAX_ROWS; default 200000].")
@click.option("--max-field-chars", type=click.IntRange(min=1), default=None,
              help="Longest cell; longer rows are rejected [env KB_MAX_FIELD_CHARS; default 20000].")
@click.pass_obj
def ingest(obj: Context, paths: tuple[str, ...], maps: tuple[str, ...], skip_invalid: bool,
           no_mask: bool, mask_columns: tuple[str, ...], max_upload_mb: float | None,
           max_rows: int | None, max_field_chars: int | None) -> None:
    """Ingest complaint ledgers (CSV/TSV/XLSX/JSON/JSONL), files or folders."""
    overrides = _parse_maps(maps)
    masking = NO_MASKING if no_mask else MaskPolicy().with_columns(mask_columns)
    try:
        limits = Settings.from_env().limits(max_upload_mb, max_rows, max_field_chars)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    failed = 0
    with obj.open(create=True) as kb:
        for path in _input_files(paths):
            if not _is_ledger(path):
                failed += not _ingest_document(kb, path, limits)
                continue
            update, bar = _progress_bar(path.name)
            try:
                report = kb.ingest_ledger(path, overrides, skip_invalid, progress=update,
                                          masking=masking, limits=limits)
            except IngestError as exc:
                failed += 1
                click.echo(f"error: {exc}", err=True)
                continue
            finally:
                bar.close()
            ledger = report.ledger
            assert ledger is not None
            mapping = ", ".join(f"{col}→{field}" for field, col in ledger.mapping.items())
            click.echo(f"{path}: {report.new} new, {report.updated} updated, "
                       f"{report.unchanged} unchanged, {report.rejected} rejected "
                       f"({ledger.file_format}, {ledger.encoding})")
            click.echo(f"  columns: {mapping}")
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
        stats = kb.stats()
    click.echo(f"knowledge base {stats.directory}: {stats.cases} cases, {stats.chunks} chunks, "
               f"{stats.documents} manuals")
    if failed:
        raise SystemExit(1)


def _ingest_document(kb: KnowledgeBase, path: Path, limits: Limits) -> bool:
    """Ingest one manual and say what happened; False (and a message) if it was refused."""
    update, bar = _progress_bar(path.name)
    try:
        limits.check_size(str(path), path.stat().st_size)
        report = kb.ingest_document(path, progress=update)
    except IngestError as exc:
        click.echo(f"error: {exc}", err=True)
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


def _filters(date_from: str | None, date_to: str | None, category: tuple[str, ...],
             product: tuple[str, ...], channel: tuple[str, ...],
             escalated: bool | None) -> Filters:
    from ingest.values import parse_date

    try:
        start, end = parse_date(date_from), parse_date(date_to)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return Filters(start, end, category, product, channel, escalated)


def _print_result(result: SearchResult) -> None:
    if not result.hits:
        click.echo("該当する過去事例はありません / no matching past cases")
        return
    for rank, hit in enumerate(result.hits, start=1):
        case = hit.case
        flag = " [二次クレーム/escalated]" if case.escalated else ""
        facts = " / ".join(x for x in (case.date, case.category, case.product, case.channel) if x)
        click.echo(f"{rank:>2}. {case.id}  score {hit.score:.3f}  {facts}{flag}")
        if case.title:
            click.echo(f"    件名 title: {case.title}")
        click.echo(f"    内容 complaint: {_short(case.content)}")
        for name, label in _LABELS.items():
            if value := getattr(case, name):
                click.echo(f"    {label}: {_short(value)}")
        if hit.matched_terms:
            click.echo(f"    matched: {', '.join(hit.matched_terms)} "
                       f"(in {', '.join(hit.matched_fields)})")
    for passage in result.passages:
        where = " > ".join(passage.heading_path)
        click.echo(f"    マニュアル manual: {passage.title} {passage.pages} {where}: "
                   f"{_short(passage.text, 120)}")
    click.echo(f"({len(result.hits)} cases, {len(result.passages)} manual passages, "
               f"{result.mode}, {result.took_ms:.0f} ms)")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@main.command()
@click.argument("query", required=False)
@click.option("--batch", type=click.Path(exists=True, dir_okay=False),
              help="JSON lines {\"_id\", \"text\"} (or id/query); one JSON line out per query.")
@click.option("--top-k", "-k", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--fusion", type=click.Choice(FUSIONS), default=DEFAULT_FUSION, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--feedback/--no-feedback", "use_feedback", default=True, show_default=True,
              help="Let staff feedback on similar past queries adjust the ranking.")
@click.option("--from", "date_from", help="Cases on or after this date.")
@click.option("--to", "date_to", help="Cases on or before this date.")
@click.option("--category", multiple=True, help="Only these categories (分類); repeatable.")
@click.option("--product", multiple=True, help="Only these products (商品); repeatable.")
@click.option("--channel", multiple=True, help="Only these channels (受付経路); repeatable.")
@click.option("--escalated/--not-escalated", default=None,
              help="Only escalated (二次クレーム) cases, or only non-escalated ones.")
@click.pass_obj
def search(obj: Context, query: str | None, batch: str | None, top_k: int, mode: str,
           fusion: str, as_json: bool, use_feedback: bool, date_from: str | None, date_to: str | None,
           category: tuple[str, ...], product: tuple[str, ...], channel: tuple[str, ...],
           escalated: bool | None) -> None:
    """Find past cases similar to QUERY (or to each line of --batch)."""
    if bool(query) == bool(batch):
        raise click.UsageError("give either a QUERY or --batch FILE")
    filters = _filters(date_from, date_to, category, product, channel, escalated)
    with obj.open() as kb:
        if batch:
            try:
                queries = load_queries(batch)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
            results = kb.search_many([q.text for q in queries], top_k, mode, filters, fusion,
                                     use_feedback=use_feedback)
            for q, result in zip(queries, results, strict=True):
                hits = [{"id": h.case.id, "score": round(h.score, 6)} for h in result.hits]
                click.echo(json.dumps({"query_id": q.id, "hits": hits}, ensure_ascii=False))
            return
        assert query is not None
        result = kb.search(query, top_k, mode, filters, fusion, use_feedback=use_feedback)
    if as_json:
        click.echo(json.dumps({"query": result.query, "mode": result.mode,
                               "took_ms": round(result.took_ms, 2),
                               "hits": [h.to_dict() for h in result.hits],
                               "passages": [p.to_dict() for p in result.passages]},
                              ensure_ascii=False, indent=2))
    else:
        _print_result(result)


@main.command()
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


@main.command()
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


@main.command()
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


@main.command()
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


@main.command()
@click.option("--model", "new_model", default=None,
              help="Re-embed with this model (default: the base's own model).")
@click.pass_obj
def reindex(obj: Context, new_model: str | None) -> None:
    """Re-embed every case and rebuild the lexical index (e.g. to change model)."""
    try:
        kb = KnowledgeBase.open(obj.index, model=None, create=False)
    except (KnowledgeBaseError, EmbedderError) as exc:
        raise click.ClickException(str(exc)) from None
    with kb:
        update, bar = _progress_bar("reindex")
        try:
            kb.reindex(new_model or obj.model, progress=update)
        except EmbedderError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            bar.close()
        stats_ = kb.stats()
    click.echo(f"reindexed {stats_.chunks} chunks with {stats_.model} (dim {stats_.dim})")


@main.command(name="calibrate")
@click.pass_obj
def calibrate_command(obj: Context) -> None:
    """Re-tune the hybrid fusion weight from the base's own labels (分類/商品)."""
    with obj.open() as kb:
        update, bar = _progress_bar("calibrate")
        result = kb.calibrate(progress=update)
        bar.close()
        prior = kb.dense_prior()
    if result is None:
        click.echo(f"no usable category/product labels; keeping the default dense prior {prior}")
        return
    scores = ", ".join(f"{p}: {v:.3f}" for p, v in result.ndcg.items())
    click.echo(f"dense prior {result.dense_prior} chosen on {result.queries} held-out cases "
               f"(similar = same {result.label}); nDCG@10 by prior: {scores}")


@main.command(name="eval")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False),
              help="JSON lines {\"_id\", \"text\"} (BEIR queries).")
@click.option("--qrels", type=click.Path(exists=True, dir_okay=False),
              help="TSV query-id, corpus-id, score.")
@click.option("--from-feedback", is_flag=True,
              help="Use staff feedback stored in the base as the judgments (helpful = relevant).")
@click.option("--modes", default=",".join(MODES), show_default=True)
@click.option("--fusion", type=click.Choice(FUSIONS), default=DEFAULT_FUSION, show_default=True)
@click.option("--feedback/--no-feedback", "use_feedback", default=None,
              help="Let stored feedback adjust the ranking [default: on, off with --from-feedback].")
@click.option("--limit", type=int, default=None, help="Only the first N queries.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def evaluate(obj: Context, queries: str | None, qrels: str | None, from_feedback: bool,
             modes: str, fusion: str, use_feedback: bool | None, limit: int | None,
             as_json: bool) -> None:
    """Recall@1/5/10, MRR@10 and nDCG@10 per search mode."""
    if from_feedback == bool(queries and qrels) or bool(queries) != bool(qrels):
        raise click.UsageError("give --queries and --qrels, or --from-feedback")
    mode_list = [m.strip() for m in modes.split(",") if m.strip()]
    for mode in mode_list:
        if mode not in MODES:
            raise click.BadParameter(f"unknown mode '{mode}'", param_hint="--modes")
    with obj.open() as kb:
        if from_feedback:
            # Judging the ranking with the very feedback that shaped it would flatter it.
            use_feedback = bool(use_feedback)
            pairs, judged = kb.feedback_judgments()
            items = [Query(qid, text) for qid, text in pairs][:limit]
        else:
            assert queries is not None and qrels is not None
            judged = load_qrels(qrels)
            items = [q for q in load_queries(queries) if q.id in judged][:limit]
            use_feedback = True if use_feedback is None else use_feedback
        if not items:
            raise click.ClickException("no judged queries (no query has a relevant case)")
        table: dict[str, dict[str, float]] = {}
        for mode in mode_list:
            update, bar = _progress_bar(mode)
            results = kb.search_many([q.text for q in items], 10, mode, fusion=fusion,
                                     progress=update, use_feedback=use_feedback)
            bar.close()
            runs = {q.id: [h.case.id for h in r.hits] for q, r in zip(items, results, strict=True)}
            table[mode] = mean_metrics(runs, judged)
    if as_json:
        click.echo(json.dumps({"queries": len(items), "fusion": fusion,
                               "feedback": use_feedback, "metrics": table}))
        return
    names = list(next(iter(table.values())))
    source = "staff feedback" if from_feedback else "qrels"
    click.echo(f"{len(items)} queries ({source}), fusion={fusion}, "
               f"feedback in ranking={'on' if use_feedback else 'off'}")
    click.echo(f"{'mode':<8}" + "".join(f"{n:>10}" for n in names))
    for mode, values in table.items():
        click.echo(f"{mode:<8}" + "".join(f"{values[n]:>10.4f}" for n in names))


from kb.cli import admin, cases, clusters, reliability  # noqa: E402,F401 - register their commands

if __name__ == "__main__":  # pragma: no cover
    main()
