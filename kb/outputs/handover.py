"""Hand-over note (引き継ぎメモ) for the supervisor taking over an escalated complaint.

Built from a search result as a short list of blocks, which render as Markdown (to copy)
or as a printable HTML page: the new complaint, what the staff member noted (the
customer's request, the order number, what was already said), the past cases the screen
showed with what was done and what prevention followed, which of them escalated, and
what worked in the ones that were resolved.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

from ingest.case_form import DONE_STATUSES
from kb.search.results import CaseHit, SearchResult

LABELS: dict[str, tuple[str, str]] = {
    "heading": ("引き継ぎメモ（二次対応用）", "Hand-over note (for escalation)"),
    "created": ("作成日時", "Created"),
    "staff": ("担当者", "Staff member"),
    "order": ("注文番号", "Order number"),
    "complaint": ("新しいクレームの内容", "The new complaint"),
    "request": ("お客様の要望", "What the customer asks for"),
    "said": ("お客様にお伝え済みの内容", "Already told the customer"),
    "not_given": ("（未記入）", "(not given)"),
    "similar": ("類似する過去事例（画面に表示した {n} 件）", "Similar past cases (the {n} shown)"),
    "none_found": ("類似する過去事例はありません。", "No similar past cases were found."),
    "cause": ("原因", "Cause"),
    "response": ("対応", "Response"),
    "prevention": ("再発防止策", "Prevention"),
    "status": ("対応状況", "Status"),
    "escalated": ("二次クレームに発展", "Escalated"),
    "watch": ("注意：類似事例 {n} 件中 {m} 件が二次クレームに発展しています。同じ対応を繰り返さないこと。",
              "Warning: {m} of {n} similar cases escalated. Do not repeat what went wrong."),
    "worked": ("うまくいった対応（対応済・二次クレームなし）",
               "What worked (resolved, no escalation)"),
    "manuals": ("関連するマニュアル", "Manual pages that apply"),
}


@dataclass(frozen=True, slots=True)
class NoteFields:
    """What the staff member adds on the note form; empty fields print as （未記入）."""

    request: str = ""
    staff: str = ""
    order: str = ""
    said: str = ""


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of the note: a heading (level 1-3), a paragraph, a warning or a list.

    `items` are (label, text) pairs of a list; `flag` marks a case heading as escalated.
    """

    kind: str  # "h1" | "h2" | "h3" | "p" | "warn" | "ul"
    text: str = ""
    items: tuple[tuple[str, str], ...] = ()
    flag: str = ""


def _t(key: str, lang: str, **values: object) -> str:
    ja, en = LABELS[key]
    text = en if lang == "en" else ja
    return text.format(**values) if values else text


def _oneline(text: str) -> str:
    return " ".join(text.split())


def resolved(hit: CaseHit) -> bool:
    """A case that was handled to the end (対応済/完了) without a second complaint."""
    case = hit.case
    return case.escalated is False and bool(case.response) and case.status in DONE_STATUSES


def note_blocks(complaint: str, fields: NoteFields, result: SearchResult, lang: str = "ja",
                now: dt.datetime | None = None, shown: int | None = None) -> list[Block]:
    """The note's content; `shown` is how many cases the screen lists (all by default), so
    the note's counts are the page's counts."""
    now = now or dt.datetime.now()
    hits = result.hits[:shown] if shown is not None else result.hits
    given = _t("not_given", lang)
    blocks = [Block("h1", _t("heading", lang)),
              Block("ul", items=((_t("created", lang), f"{now:%Y-%m-%d %H:%M}"),
                                 (_t("staff", lang), fields.staff.strip() or given),
                                 (_t("order", lang), fields.order.strip() or given))),
              Block("h2", _t("complaint", lang)), Block("p", complaint.strip()),
              Block("h2", _t("request", lang)), Block("p", fields.request.strip() or given),
              Block("h2", _t("said", lang)), Block("p", fields.said.strip() or given)]
    escalated = [h for h in hits if h.case.escalated]
    if escalated:
        blocks.append(Block("warn", _t("watch", lang, n=len(hits), m=len(escalated))))
    blocks.append(Block("h2", _t("similar", lang, n=len(hits))))
    if not hits:
        blocks.append(Block("p", _t("none_found", lang)))
    for rank, hit in enumerate(hits, start=1):
        case = hit.case
        facts = " / ".join(x for x in (case.date, case.category, case.product, case.channel) if x)
        items = [("", facts)] if facts else []
        items.append(("", _oneline(case.content)))
        items += [(_t(n, lang), _oneline(getattr(case, n))) for n in
                  ("cause", "response", "prevention", "status") if getattr(case, n)]
        blocks += [Block("h3", f"{rank}. {_oneline(case.title or case.id)} ({case.id})",
                         flag=_t("escalated", lang) if case.escalated else ""),
                   Block("ul", items=tuple(items))]
    worked = [h for h in hits if resolved(h)]
    if worked:
        blocks += [Block("h2", _t("worked", lang)),
                   Block("ul", items=tuple((h.case.id, _oneline(h.case.response)) for h in worked))]
    if result.passages:
        blocks += [Block("h2", _t("manuals", lang)), Block("ul", items=tuple(
            (f"{p.title} {p.pages} {' › '.join(p.heading_path)}".strip(), _oneline(p.text)[:120])
            for p in result.passages))]
    return blocks


def to_markdown(blocks: list[Block]) -> str:
    """The note as Markdown; ledger text is quoted as-is, one field per line."""
    lines: list[str] = []
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            flag = f" **[{block.flag}]**" if block.flag else ""
            lines += ["#" * int(block.kind[1]) + f" {block.text}{flag}", ""]
        elif block.kind == "warn":
            lines += [f"> {block.text}", ""]
        elif block.kind == "ul":
            lines += [f"- **{label}**: {text}" if label else f"- {text}"
                      for label, text in block.items] + [""]
        else:
            lines += [block.text, ""]
    return "\n".join(lines).rstrip() + "\n"


def to_html(blocks: list[Block], lang: str = "ja") -> str:
    """A self-contained printable page (the browser's print dialog opens on load)."""
    esc = html.escape
    body: list[str] = []
    for block in blocks:
        if block.kind in ("h1", "h2", "h3"):
            flag = f" <span class='flag'>{esc(block.flag)}</span>" if block.flag else ""
            body.append(f"<{block.kind}>{esc(block.text)}{flag}</{block.kind}>")
        elif block.kind == "warn":
            body.append(f"<p class='warn'>{esc(block.text)}</p>")
        elif block.kind == "ul":
            items = "".join(f"<li><strong>{esc(label)}</strong>: {esc(text)}</li>" if label
                            else f"<li>{esc(text)}</li>" for label, text in block.items)
            body.append(f"<ul>{items}</ul>")
        else:
            body.append(f"<p>{esc(block.text)}</p>")
    style = ("body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.6}"
             ".warn{border-left:4px solid #c00;padding-left:.6em;color:#900}"
             ".flag{font-size:.8em;color:#fff;background:#c00;padding:0 .4em;border-radius:3px}"
             "@media print{body{margin:0}}")
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
            f"<title>{esc(_t('heading', lang))}</title><style>{style}</style></head>"
            f"<body onload='window.print()'>{''.join(body)}</body></html>")


def handover_markdown(complaint: str, request: str | NoteFields, result: SearchResult,
                      lang: str = "ja", now: dt.datetime | None = None,
                      shown: int | None = None) -> str:
    """The note as Markdown (a plain `request` string is the customer's request)."""
    fields = request if isinstance(request, NoteFields) else NoteFields(request=request)
    return to_markdown(note_blocks(complaint, fields, result, lang, now, shown))


def handover_html(complaint: str, request: str | NoteFields, result: SearchResult,
                  lang: str = "ja", now: dt.datetime | None = None,
                  shown: int | None = None) -> str:
    """The same note as a printable HTML page."""
    fields = request if isinstance(request, NoteFields) else NoteFields(request=request)
    return to_html(note_blocks(complaint, fields, result, lang, now, shown), lang)
