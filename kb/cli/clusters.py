"""`kb clusters`: similar-incident clusters for the monthly review (a thin layer over kb.clusters)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb import CONTINUES, GROWING_NO_MEASURE, Cluster, ClusterParams, ClusterReport, Filters, cluster_cases
from kb.cli.context import Context, date_options, date_range

_SPARK = "▁▂▃▄▅▆▇█"
_STATUS = {"continues": "再発継続 continues after measure",
           "recurs": "対策後も発生（増加なし） recurs, not more often",
           "stopped": "再発なし stopped after measure",
           "too_early": "対策直後 measure too recent to judge",
           "no_measure": "対策なし no measure"}
_FLAGS = {CONTINUES: "再発防止策後も継続 continues after measure",
          GROWING_NO_MEASURE: "増加・対策なし growing, no measure"}


def spark(values: tuple[int, ...]) -> str:
    """Monthly counts as a one-line bar chart."""
    top = max(values, default=0)
    if not top:
        return ""
    return "".join(_SPARK[min(len(_SPARK) - 1, round(v / top * (len(_SPARK) - 1)))] for v in values)


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _print_cluster(report: ClusterReport, c: Cluster) -> None:
    window = report.params.recent_months
    share = "—" if c.escalated_share is None else f"{c.escalated_share:.0%}"
    click.echo(f"#{c.id} {c.label}  ({c.size} 件 cases, {(c.first_date or '?')[:10]} .. "
               f"{(c.last_date or '?')[:10]})")
    for flag in c.flags:
        click.echo(f"   ! {_FLAGS[flag]}")
    click.echo(f"   trend {c.trend}: {c.recent} in the last {window} months, {c.previous} before"
               f" · 二次クレーム escalated {share}")
    click.echo(f"   monthly {spark(c.monthly)}")
    click.echo("   商品 products: " + ", ".join(f"{v} {n}" for v, n in c.top_products)
               + " · 分類 categories: " + ", ".join(f"{v} {n}" for v, n in c.top_categories))
    for case_id in c.representatives:
        case = report.cases[case_id]
        click.echo(f"   e.g. {case_id} {(case.date or '')[:10]} {_short(case.title or case.content)}")
    first = next((m for m in c.measures if m.date), None)
    if first:
        click.echo(f"   再発防止策 measures: {len(c.measures)} recorded, first {first.date[:10]} "
                   f"({first.case_id}); {len(c.after_first_measure)} cases after it")
    else:
        click.echo("   再発防止策 measures: none recorded")
    for issue in c.issues:
        if issue.status == "continues" and CONTINUES not in c.flags:
            continue
        measure = issue.first_measure
        detail = (f"measure {measure.date[:10]} {measure.case_id} 「{_short(measure.text, 40)}」, "
                  f"{len(issue.after_first_measure)} after" if measure else
                  f"{issue.recent} in the last {window} months, {issue.previous} before")
        click.echo(f"   - {issue.id} {issue.label} ({len(issue.case_ids)}): "
                   f"{_STATUS[issue.status]}; {detail}")
    if c.unaddressed and GROWING_NO_MEASURE in c.flags:
        click.echo(f"   unaddressed cases ({c.unaddressed_recent} recent, {c.unaddressed_previous} "
                   f"before): {' '.join(c.unaddressed)}")


def _print(report: ClusterReport) -> None:
    if not report.clusters:
        click.echo("該当する事例はありません / no cases match")
        return
    click.echo(f"{report.n_cases} cases -> {len(report.clusters)} clusters ({report.algorithm}; "
               f"the data suggested {report.k_found}), {len(report.outliers)} outliers, "
               f"{report.took_ms / 1000:.1f} s")
    if report.months:
        click.echo(f"period {report.months[0]} .. {report.months[-1]}")
    for cluster in report.clusters:
        click.echo("")
        _print_cluster(report, cluster)
    if report.outliers:
        click.echo("")
        click.echo(f"outliers (joined their nearest cluster): {' '.join(report.outliers)}")
    if report.unembedded:
        click.echo(f"{report.unembedded} selected cases have no vector and were left out "
                   f"(run `kb reindex`)")


@click.command()
@date_options
@click.option("--product", multiple=True, help="Only these products (商品); repeatable.")
@click.option("--category", multiple=True, help="Only these categories (分類); repeatable.")
@click.option("--clusters", "n_clusters", type=click.IntRange(2, 500), default=None,
              help="Number of clusters [default: as many as the data suggests].")
@click.option("--recent-months", default=6, show_default=True, type=click.IntRange(1, 60),
              help="Growth compares the last N months of the period with the N before.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one row per case (its cluster, issue and flags) to this CSV file.")
@click.option("--summary-csv", "summary_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one row per cluster to this CSV file.")
@click.pass_obj
def clusters(obj: Context, date_from: str | None, date_to: str | None, product: tuple[str, ...],
             category: tuple[str, ...], n_clusters: int | None, recent_months: int, seed: int,
             as_json: bool, csv_path: Path | None, summary_path: Path | None) -> None:
    """Group similar past cases: labels, trends, escalation, prevention effectiveness."""
    filters = Filters(*date_range(date_from, date_to), categories=category, products=product)
    params = ClusterParams(n_clusters=n_clusters, recent_months=recent_months, seed=seed)
    with obj.open() as kb:
        report = cluster_cases(kb, filters, params)
    # utf-8-sig: Excel on Japanese Windows reads a BOM-less UTF-8 CSV as Shift_JIS.
    if csv_path:
        csv_path.write_text(report.cases_csv(), encoding="utf-8-sig")
    if summary_path:
        summary_path.write_text(report.clusters_csv(), encoding="utf-8-sig")
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    _print(report)
    for path in (csv_path, summary_path):
        if path:
            click.echo(f"wrote {path}")
