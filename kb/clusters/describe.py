"""What a cluster is about and how it behaves over time: keywords, months, growth, measures.

Pure functions over plain values; kb/clusters/report.py assembles them into the report.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_NUMBERISH = re.compile(r"^[\d.,:/%+\-#&'−ー〜~]+$")
_REDACTED = re.compile(r"^(.)\1+$")  # CFPB masks names and dates as XXXX / XX
_HIRAGANA = re.compile(r"^[\u3041-\u309f]{1,3}$")  # あんな, どの, すぐ: no topic in them
# Sudachi's normalised forms of auxiliary-like verbs and adjectives that name no topic.
_WEAK = frozenset(["出来る", "呉れる", "下さる", "頂く", "戴く", "貰う", "貰える", "思う", "見る", "来る",
                   "行く", "無い", "良い", "欲しい", "分かる", "致す", "申す", "御座る", "為さる"])
# Words every complaint may use: as a label they tell no group from another (商品 labelled
# three sample clusters). Compared with Sudachi's normalised forms, lower-cased.
_GENERIC = frozenset(["商品", "製品", "品物", "当社", "弊社", "御社", "お客様", "御客様", "客様", "自分",
                      "今回", "先日", "以前", "本日", "前回", "此方", "其方"])
# What the analyser leaves of a model number such as KT-10 or MR-200 ("kt", "mr"), and
# short English function words: fragments, not topics.
_FRAGMENT = re.compile(r"^[a-z]{1,3}$")


@dataclass(frozen=True, slots=True)
class Measure:
    """A prevention measure (再発防止策) as recorded on a case."""

    case_id: str
    date: str | None
    text: str


def keyword_worthy(token: str) -> bool:
    """Tokens that can name a cluster: not numbers, masks or single characters (月, 日, 件),
    not pieces of model numbers (kt of KT-10), not words any complaint uses (商品)."""
    return (len(token) > 1 and token not in _WEAK and token not in _GENERIC
            and not _NUMBERISH.match(token) and not _FRAGMENT.match(token)
            and not _REDACTED.match(token) and not _HIRAGANA.match(token))


def class_keywords(groups: Sequence[Counter[str]], top: int = 8) -> list[tuple[str, ...]]:
    """Top words of each group by class-based TF-IDF (as in BERTopic).

    A word scores high when it is frequent inside the group and rare across groups:
    tf(word, group) / |group| * log(1 + mean group length / frequency of word overall).
    """
    totals: Counter[str] = Counter()
    for group in groups:
        totals.update(group)
    mean_length = sum(totals.values()) / max(len(groups), 1)
    out: list[tuple[str, ...]] = []
    for group in groups:
        size = sum(group.values()) or 1
        scores = {word: count / size * math.log(1 + mean_length / totals[word])
                  for word, count in group.items() if keyword_worthy(word)}
        ranked = sorted(scores, key=lambda w: (-scores[w], w))
        out.append(tuple(ranked[:top]))
    return out


def label_of(keywords: Sequence[str], words: int = 3) -> str:
    return " / ".join(keywords[:words]) if keywords else "—"


def month_of(date: str | None) -> str | None:
    """'YYYY-MM' of an ISO date ('YYYY-MM-DD[ HH:MM]'), None when unknown."""
    return date[:7] if date and len(date) >= 7 else None


def month_range(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` inclusive ('YYYY-MM')."""
    year, month = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    out: list[str] = []
    while (year, month) <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def monthly_counts(dates: Iterable[str | None], months: Sequence[str]) -> tuple[int, ...]:
    counts = Counter(m for m in map(month_of, dates) if m)
    return tuple(counts.get(m, 0) for m in months)


def recent_and_previous(monthly: Sequence[int], window: int) -> tuple[int, int]:
    """Cases in the last `window` months of the period, and in the `window` months before."""
    recent = sum(monthly[-window:]) if window else 0
    previous = sum(monthly[-2 * window : -window]) if len(monthly) > window else 0
    return recent, previous


def trend_of(recent: int, previous: int) -> str:
    """'growing' / 'shrinking' / 'steady': at least doubled (or halved), with 3+ cases behind it.

    The +1 keeps one or two stray cases from reading as a trend.
    """
    if recent >= 3 and (recent + 1) >= 2 * (previous + 1):
        return "growing"
    if previous >= 3 and (previous + 1) >= 2 * (recent + 1):
        return "shrinking"
    return "steady"


def measures_of(cases: Iterable[tuple[str, str | None, str]]) -> tuple[Measure, ...]:
    """Distinct prevention texts (first time each was recorded), oldest first.

    `cases` are (id, date, prevention) triples; cases without a date sort last.
    """
    seen: dict[str, Measure] = {}
    for case_id, date, text in sorted(cases, key=lambda c: (c[1] is None, c[1] or "", c[0])):
        text = text.strip()
        if text and text not in seen:
            seen[text] = Measure(case_id, date, text)
    return tuple(seen.values())


def cases_after(first_measure: str | None, dated: Iterable[tuple[str, str | None]]) -> tuple[str, ...]:
    """Ids of cases received on a later day than the first measure (same day counts as before)."""
    if not first_measure:
        return ()
    day = first_measure[:10]
    return tuple(case_id for case_id, date in dated if date and date[:10] > day)
