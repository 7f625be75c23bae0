"""Synthetic-but-varied cases for the scale benchmarks, built from real text.

Every case is a new combination: a title, one or two complaint sentences and a customer
request drawn from the sample ledger (Japanese, 75%) or from real CFPB narratives (English,
25%), plus a date, an order number and a resolution from another real case; labels follow
the first sentence's source. No two cases share their text, so duplicates do not flatter
ingest (content-hash reuse) or search. The JaQuAD paragraphs join verbatim (their `_id` as
case id), so the JaQuAD queries can be judged at every scale.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.records import Case

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "data" / "sample_complaints.csv"
JAQUAD = SHARED / "jaquad_dev"
CFPB = SHARED / "cfpb" / "complaints_sample.csv"
_SENTENCE = re.compile(r"(?<=[。！？!?])|(?<=\.)\s+")


@dataclass(frozen=True)
class Source:
    """One real sentence with the labels and resolution of the case it came from."""

    text: str
    title: str
    request: str
    category: str
    product: str
    channel: str
    cause: str
    response: str
    prevention: str


def _sentences(text: str, shortest: int, longest: int) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text or "")
            if s and shortest <= len(s.strip()) <= longest]


def japanese_sources() -> list[Source]:
    with SAMPLE.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    return [Source(s, r["件名"], r["顧客の要望"], r["分類"], r["商品"], r["受付経路"],
                   r["発生原因"], r["対応内容"], r["再発防止策"])
            for r in rows for s in _sentences(r["クレーム内容"], 8, 90)]


def english_sources() -> list[Source]:
    out = []
    with CFPB.open(encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            for s in _sentences(r["Consumer complaint narrative"], 30, 140):
                out.append(Source(s, r["Issue"], r["Sub-issue"] or "", r["Issue"], r["Product"],
                                  r["Submitted via"], "", r["Company response to consumer"], ""))
    return out


def jaquad_cases() -> list[Case]:
    with (JAQUAD / "corpus.jsonl").open(encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    return [Case(id=d["_id"], title=d.get("title", ""), content=d["text"], source="jaquad")
            for d in docs]


def synthetic_cases(n: int, seed: int = 0) -> Iterator[Case]:
    """`n` cases, generated lazily (a 1M-case ledger need not sit in memory)."""
    rng = random.Random(seed)
    ja, en = japanese_sources(), english_sources()
    start = dt.date(2019, 1, 1)
    for i in range(n):
        english = rng.random() < 0.25
        pool = en if english else ja
        first = rng.choice(pool)
        parts = [first.text] + ([rng.choice(pool).text] if rng.random() < 0.5 else [])
        order = rng.randrange(100000, 999999)
        day = start + dt.timedelta(days=rng.randrange(7 * 365))
        if english:
            content = f"Order {order}: " + " ".join(parts)
        else:
            content = f"{day.month}月{day.day}日、注文番号{order}の件。" + "".join(parts)
        other = rng.choice(pool)
        yield Case(id=f"S-{i:07d}", date=day.isoformat(), title=first.title, content=content,
                   customer_request=first.request if rng.random() < 0.5 else "",
                   cause=other.cause, response=other.response,
                   prevention=other.prevention if rng.random() < 0.5 else "",
                   category=first.category, product=first.product, channel=first.channel,
                   escalated=rng.random() < 0.12, source="synthetic")


def scale_cases(total: int, seed: int = 0) -> Iterator[Case]:
    """The JaQuAD paragraphs, then synthetic cases up to `total`."""
    real = jaquad_cases()
    yield from real
    yield from synthetic_cases(max(0, total - len(real)), seed)
