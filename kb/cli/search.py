"""`kb search` (one query or a batch) and `kb eval` (retrieval metrics per search mode)."""

from __future__ import annotations

import json

import click

from kb import (
    DEFAULT_FUSION,
    FUSIONS,
    MODES,
    Filters,
    KnowledgeBase,
    Query,
    SearchResult,
    load_qrels,
    load_queries,
    mean_metrics,
)
from kb.cli.context import Context, date_options, date_range, progress_bar

_LABELS = {"cause": "原因 cause", "response": "対応 response", "prevention": "再発防止策 prevention"}


def _short(text: str, limit: int = 160) -> str:
    """One line, cut with an ellipsis, so a result list stays readable in a terminal."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_LEVELS = {"high": "高 high", "medium": "中 medium", "low": "低 low"}


def _print_result(result: SearchResult) -> None:
    """The readable list: each case with its cause, response and prevention, then manuals."""
    if not result.hits:
        click.echo("該当する過去事例はありません / no matching past cases")
        return
    if result.no_close_case:
        click.echo("近い過去事例は見つかりませんでした（参考：最も近い事例）/ no close past case "
                   "(for reference, the nearest ones):")
    for rank, hit in enumerate(result.hits, start=1):
        case = hit.case
        flag = " [二次クレーム/escalated]" if case.escalated else ""
        facts = " / ".join(x for x in (case.date, case.category, case.product, case.channel) if x)
        level = f"  類似度 {_LEVELS[hit.level]} {hit.confidence:.2f}" if hit.level else ""
        click.echo(f"{rank:>2}. {case.id}  score {hit.score:.3f}{level}  {facts}{flag}")
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


def _search_batch(kb: KnowledgeBase, batch: str, top_k: int, mode: str, filters: Filters,
                  fusion: str, use_feedback: bool) -> None:
    """The batch contract: one JSON line {"query_id", "hits"} per query, in input order."""
    try:
        queries = load_queries(batch)
    except ValueError as exc:  # a malformed line: load_queries names the file and line
        raise click.ClickException(str(exc)) from None
    results = kb.search_many([q.text for q in queries], top_k, mode, filters, fusion,
                             use_feedback=use_feedback)
    for q, result in zip(queries, results, strict=True):
        hits = [{"id": h.case.id, "score": round(h.score, 6)} for h in result.hits]
        click.echo(json.dumps({"query_id": q.id, "hits": hits}, ensure_ascii=False))


@click.command()
@click.argument("query", required=False)
@click.option("--batch", type=click.Path(exists=True, dir_okay=False),
              help="JSON lines {\"_id\", \"text\"} (or id/query); one JSON line out per query.")
@click.option("--top-k", "-k", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--fusion", type=click.Choice(FUSIONS), default=DEFAULT_FUSION, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--feedback/--no-feedback", "use_feedback", default=True, show_default=True,
              help="Let staff feedback on similar past queries adjust the ranking.")
@date_options
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
    filters = Filters(*date_range(date_from, date_to), category, product, channel, escalated)
    with obj.open() as kb:
        if batch:
            _search_batch(kb, batch, top_k, mode, filters, fusion, use_feedback)
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


def _judged_queries(kb: KnowledgeBase, queries: str | None, qrels: str | None,
                    from_feedback: bool, use_feedback: bool | None, limit: int | None,
                    ) -> tuple[list[Query], dict[str, dict[str, float]], bool]:
    """The queries to run, their judgments, and whether feedback may shape the ranking."""
    if from_feedback:
        # Judging the ranking with the very feedback that shaped it would flatter it.
        pairs, judged = kb.feedback_judgments()
        items = [Query(qid, text) for qid, text in pairs][:limit]
        return items, judged, bool(use_feedback)
    assert queries is not None and qrels is not None
    judged = load_qrels(qrels)
    items = [q for q in load_queries(queries) if q.id in judged][:limit]
    return items, judged, True if use_feedback is None else use_feedback


def _print_table(table: dict[str, dict[str, float]], queries: int, from_feedback: bool,
                 fusion: str, use_feedback: bool) -> None:
    """One row per mode, one column per metric."""
    names = list(next(iter(table.values())))
    source = "staff feedback" if from_feedback else "qrels"
    click.echo(f"{queries} queries ({source}), fusion={fusion}, "
               f"feedback in ranking={'on' if use_feedback else 'off'}")
    click.echo(f"{'mode':<8}" + "".join(f"{n:>10}" for n in names))
    for mode, values in table.items():
        click.echo(f"{mode:<8}" + "".join(f"{values[n]:>10.4f}" for n in names))


@click.command(name="eval")
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
        items, judged, feedback = _judged_queries(kb, queries, qrels, from_feedback,
                                                  use_feedback, limit)
        if not items:
            raise click.ClickException("no judged queries (no query has a relevant case)")
        table: dict[str, dict[str, float]] = {}
        for mode in mode_list:
            update, bar = progress_bar(mode)
            results = kb.search_many([q.text for q in items], 10, mode, fusion=fusion,
                                     progress=update, use_feedback=feedback)
            bar.close()
            runs = {q.id: [h.case.id for h in r.hits] for q, r in zip(items, results, strict=True)}
            table[mode] = mean_metrics(runs, judged)
    if as_json:
        click.echo(json.dumps({"queries": len(items), "fusion": fusion,
                               "feedback": feedback, "metrics": table}))
        return
    _print_table(table, len(items), from_feedback, fusion, feedback)
