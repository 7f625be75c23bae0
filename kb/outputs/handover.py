"""Hand-over note (引き継ぎメモ) for the supervisor taking over an escalated complaint.

Plain Markdown (and a printable HTML page) built from a search result: the new
complaint, what the customer asks for, the most similar past cases with what was
done and what prevention followed, and which of them escalated.
"""

from __future__ import annotations

import datetime as dt
import html

from kb.search.results import SearchResult

LABELS: dict[str, tuple[str, str]] = {
    "heading": ("引き継ぎメモ（二次対応用）", "Hand-over note (for escalation)"),
    "created": ("作成日時", "Created"),
    "complaint": ("新しいクレームの内容", "The new complaint"),
    "request": ("お客様の要望", "What the customer asks for"),
    "not_given": ("（未記入）", "(not given)"),
    "similar": ("類似する過去事例", "Similar past cases"),
    "none_found": ("類似する過去事例はありません。", "No similar past cases were found."),
    "cause": ("原因", "Cause"),
    "response": ("対応", "Response"),
    "prevention": ("再発防止策", "Prevention"),
    "escalated": ("二次クレームに発展", "Escalated"),
    "watch": ("注意：類似事例 {n} 件中 {m} 件が二次クレームに発展しています。同じ対応を繰り返さないこと。",
              "Warning: {m} of {n} similar cases escalated. Do not repeat what went wrong."),
    "worked": ("うまくいった対応（二次クレームなし）", "What worked (no escalation)"),
    "manuals": ("関連するマニュアル", "Manual pages that apply"),
}


def _t(key: str, lang: str, **values: object) -> str:
    ja, en = LABELS[key]
    text = en if lang == "en" else ja
    return text.format(**values) if values else text


def _oneline(text: str) -> str:
    return " ".join(text.split())


def handover_markdown(complaint: str, request: str, result: SearchResult, lang: str = "ja",
                      now: dt.datetime | None = None, limit: int = 5) -> str:
    """The note as Markdown; ledger text is quoted as-is, one field per line."""
    now = now or dt.datetime.now()
    hits = result.hits[:limit]
    lines = [f"# {_t('heading', lang)}", "",
             f"- {_t('created', lang)}: {now:%Y-%m-%d %H:%M}", "",
             f"## {_t('complaint', lang)}", "", complaint.strip(), "",
             f"## {_t('request', lang)}", "", request.strip() or _t("not_given", lang), ""]
    escalated = [h for h in hits if h.case.escalated]
    if escalated:
        lines += [f"> {_t('watch', lang, n=len(hits), m=len(escalated))}", ""]
    lines += [f"## {_t('similar', lang)}", ""]
    if not hits:
        lines += [_t("none_found", lang), ""]
    for rank, hit in enumerate(hits, start=1):
        case = hit.case
        facts = " / ".join(x for x in (case.date, case.category, case.product, case.channel) if x)
        flag = f" **[{_t('escalated', lang)}]**" if case.escalated else ""
        lines += [f"### {rank}. {_oneline(case.title or case.id)} ({case.id}){flag}", "",
                  f"- {facts}" if facts else "", f"- {_oneline(case.content)}"]
        for name in ("cause", "response", "prevention"):
            value = getattr(case, name)
            if value:
                lines.append(f"- **{_t(name, lang)}**: {_oneline(value)}")
        lines.append("")
    worked = [h for h in hits if h.case.escalated is False and h.case.response]
    if worked:
        lines += [f"## {_t('worked', lang)}", ""]
        lines += [f"- {h.case.id}: {_oneline(h.case.response)}" for h in worked]
        lines.append("")
    if result.passages:
        lines += [f"## {_t('manuals', lang)}", ""]
        for passage in result.passages:
            where = " > ".join(passage.heading_path)
            lines.append(f"- {passage.title} {passage.pages} {where}: {_oneline(passage.text)[:120]}")
        lines.append("")
    return "\n".join(line for line in lines if line is not None).rstrip() + "\n"


def handover_html(markdown_text: str, lang: str = "ja") -> str:
    """A self-contained printable page (the browser's print dialog opens on load)."""
    body: list[str] = []
    for line in markdown_text.splitlines():
        text = html.escape(line)
        if line.startswith("### "):
            body.append(f"<h3>{text[4:]}</h3>")
        elif line.startswith("## "):
            body.append(f"<h2>{text[3:]}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{text[2:]}</h1>")
        elif line.startswith("&gt; "):
            body.append(f"<p class='warn'>{text[5:]}</p>")
        elif line.startswith("- "):
            body.append(f"<li>{text[2:].replace('**', '')}</li>")
        elif line:
            body.append(f"<p>{text}</p>")
    style = ("body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.6}"
             ".warn{border-left:4px solid #c00;padding-left:.6em;color:#900}"
             "@media print{body{margin:0}}")
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(_t('heading', lang))}</title><style>{style}</style></head>"
            f"<body onload='window.print()'>{''.join(body)}</body></html>")
