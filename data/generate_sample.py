"""Generate the demo complaint ledger (クレーム管理台帳) in data/sample_complaints.csv.

Everything here is fictional: the company, the people, the order numbers.  The script
uses only the standard library and a fixed random seed, so running

    python data/generate_sample.py

from the repository root rewrites the CSV byte for byte (`--out PATH` writes elsewhere).
The phrase tables (products, categories and their scenarios, the planted patterns, the
English cases) live as JSON in data/sample_phrases/; this file holds only the logic.
Planted patterns (prevention measures that did not stop recurrences, one that did, and a
growing problem with no measure at all) are described in data/README.md; `main` prints
their case ids.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20230401
HERE = Path(__file__).resolve().parent
OUT_PATH = HERE / "sample_complaints.csv"
PHRASES_DIR = HERE / "sample_phrases"
START = date(2023, 4, 1)
END = date(2025, 9, 30)
GENERIC_CASES = 300
MIN_CHARS, MAX_CHARS = 40, 250

HEADERS = (
    "管理番号", "受付日", "件名", "クレーム内容", "顧客の要望", "発生原因", "対応内容", "再発防止策",
    "分類", "商品", "受付経路", "重要度", "二次クレーム", "対応状況", "担当部署",
)  # fmt: skip
VOICE_CHANNELS = ("電話", "店頭")
ATTITUDE = "接客態度"  # the 分類 whose first responses go wrong twice as often
LOGIN_KEY = "ログイン障害"  # pattern D: its department and open status are drawn specially

Frag = tuple[str, ...]
ByKind = dict[str, Frag]  # keyed by Product.kind, "*" as fallback
Weights3 = tuple[float, float, float]  # 高, 中, 低

# ---------------------------------------------------------------------------
# Data model (field names match the keys in data/sample_phrases/*.json)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    """A product or service of the fictional company."""

    name: str
    short: str
    price: int
    kind: str  # goods / subscription / site / card
    items: Frag
    feature: str = ""


@dataclass(frozen=True)
class Problem:
    """One concrete problem: paraphrases of the complaint and what fits them."""

    issues: Frag
    titles: Frag
    causes: Frag
    preventions: Frag = ()
    actions: Frag = ()
    wants: Frag = ()
    extras: Frag = ()
    closers: Frag = ()


@dataclass(frozen=True)
class Scenario:
    """A group of related problems sharing products, channels and responses."""

    key: str
    products: tuple[str, ...]
    problems: tuple[Problem, ...]
    actions: Frag = ()
    wants: Frag = ()
    openers: ByKind = field(default_factory=dict)
    extras: Frag = ()
    channels: tuple[str, ...] = ()
    dept: str = ""
    severity: Weights3 | None = None
    weight: float = 1.0
    optional_prevention: bool = True
    own_extras_only: bool = False


@dataclass(frozen=True)
class Category:
    """A 分類 value with its shared fragments and scenarios.

    Closing lines may carry the request they imply after '｜' (e.g. '…返金してほしい。｜返金');
    a problem's own `closers` replace the category's polite/angry/reported lines.
    """

    name: str
    dept: str
    weight: float
    severity: Weights3
    channels: dict[str, float]
    openers: ByKind
    extras: ByKind
    polite: Frag
    angry: Frag
    reported: Frag
    wants: Frag
    actions: Frag
    pending: Frag
    scenarios: tuple[Scenario, ...]


@dataclass(frozen=True)
class Plant:
    """A planted case: its date and tag, with an optional fixed cause/measure/status."""

    when: date
    tag: str
    cause: str | None = None
    prevention: str | None = None
    status: str | None = None


# ---------------------------------------------------------------------------
# Loading the phrase tables
# ---------------------------------------------------------------------------


def freeze(value: Any) -> Any:
    """Turn JSON arrays back into tuples, as the tables were tuples when written as literals."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: freeze(v) for k, v in value.items()}
    return value


def load(name: str) -> Any:
    """Read one table from data/sample_phrases/ (JSON objects keep their key order)."""
    return freeze(json.loads((PHRASES_DIR / name).read_text(encoding="utf-8")))


def openers_of(raw: dict[str, Any] | str) -> ByKind:
    """Opening lines given inline, or by the name of a shared table in common.json."""
    return COMMON["openers"][raw] if isinstance(raw, str) else raw


def scenario_of(raw: dict[str, Any]) -> Scenario:
    """Build a Scenario (and its Problems) from its JSON object."""
    problems = tuple(Problem(**p) for p in raw["problems"])
    return Scenario(**{**raw, "problems": problems, "openers": openers_of(raw.get("openers", {}))})


def category_of(raw: dict[str, Any]) -> Category:
    """Build a Category (and its Scenarios) from its JSON object."""
    scenarios = tuple(scenario_of(s) for s in raw["scenarios"])
    return Category(**{**raw, "openers": openers_of(raw["openers"]), "scenarios": scenarios})


def plant_of(raw: dict[str, str]) -> Plant:
    """Build a Plant; without a cause (None) one is drawn from the problem's causes as usual."""
    return Plant(**{**raw, "when": date.fromisoformat(raw["when"])})


COMMON = load("common.json")
PURPOSES: Frag = COMMON["purposes"]
PREFIXES: dict[str, Frag] = COMMON["prefixes"]
SEASON: dict[int, float] = dict(enumerate(COMMON["season"], start=1))  # volume factor by month
PRODUCTS: dict[str, Product] = {p["name"]: Product(**p) for p in load("products.json")}
# Files are numbered: their order is the order of the category weights and matters to the draws.
CATEGORY_FILES = sorted((PHRASES_DIR / "categories").glob("*.json"))
CATEGORIES: tuple[Category, ...] = tuple(category_of(load(f"categories/{p.name}")) for p in CATEGORY_FILES)
CATEGORY_BY_NAME = {c.name: c for c in CATEGORIES}

# Response quality: poor first responses are what turn a case into a 二次クレーム.
RESPONSES = load("responses.json")
BAD_FIRST_RESPONSES: dict[str, Frag] = RESPONSES["bad_first"]  # keyed "voice" / "text"
ESCALATION_FIXES: Frag = RESPONSES["escalation_fixes"]
OUTCOME_ESCALATIONS: Frag = RESPONSES["outcome_escalations"]
GOOD_FIRST: Frag = RESPONSES["good_first"]
RESPONSE_PREVENTIONS: Frag = RESPONSES["prevention_addenda"]
ON_HOLD_ACTIONS: Frag = RESPONSES["on_hold"]

# The four planted patterns (A–D, see data/README.md), in the order they are drawn.
PLANTED: tuple[tuple[Category, Scenario, list[Plant]], ...] = tuple(
    (CATEGORY_BY_NAME[p["category"]], scenario_of(p["scenario"]), [plant_of(x) for x in p["plants"]])
    for p in load("planted.json")
)
# English cases (foreign customers): free text in English, coded columns in Japanese.
ENGLISH_CASES: tuple[dict[str, str], ...] = load("english.json")

# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


@dataclass
class Case:
    """One ledger row before its 管理番号 is assigned."""

    received: datetime
    values: dict[str, str]
    tag: str = ""


def jp_day(day: date) -> str:
    """Format a date as M月D日."""
    return f"{day.month}月{day.day}日"


def pick(rng: random.Random, options: Frag) -> str:
    """Choose one fragment."""
    return rng.choice(options)


def pick_kind(rng: random.Random, table: ByKind, kind: str) -> str | None:
    """Choose a fragment for a product kind, falling back to '*'; None if none fit."""
    options = table.get(kind) or table.get("*")
    return rng.choice(options) if options else None


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    """Choose a key by weight."""
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def split_closer(text: str) -> tuple[str, str]:
    """Split a closing line into its text and the request it implies ('' if none)."""
    line, _, want = text.partition("｜")
    return line, want


def make_context(rng: random.Random, received: date, product: Product, dept: str) -> dict[str, object]:
    """Concrete details (order number, dates, amounts) for one case's templates."""
    ordered = received - timedelta(days=rng.randint(6, 18))
    due = ordered + timedelta(days=rng.randint(2, 4))
    colors = rng.sample(("ホワイト", "ブラック", "グレー"), 2)
    return {
        "order": f"A{rng.randint(10000, 99999)}",
        "odate": jp_day(ordered),
        "ddate": jp_day(due),
        "days": (received - ordered).days,
        "late": max(2, (received - due).days),
        "days2": rng.randint(2, 6),
        "weeks": rng.randint(1, 4),
        "months": rng.randint(2, 14),
        "track": f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        "item": rng.choice(product.items),
        "short": product.short,
        "price": f"{product.price:,}円",
        "amount": f"{rng.randrange(1980, 48000, 10):,}円",
        "points": f"{rng.randrange(300, 5000, 50):,}",
        "times": rng.randint(2, 4),
        "minutes": rng.randint(15, 50),
        "color": colors[0],
        "color2": colors[1],
        "qty": rng.randint(2, 3),
        "purpose": rng.choice(PURPOSES),
        "sday": rng.choice((5, 10, 15, 20, 25)),
        "lead": rng.randint(1, 3),
        "year": rng.randint(3, 10),
        "feature": product.feature,
        "fee": rng.choice((660, 880, 1100)),
        "dept": dept,
    }


def sentence_count(parts: list[str]) -> int:
    """Rough number of sentences in the given fragments."""
    return sum(p.count("。") + p.count("？") for p in parts)


def compose_complaint(
    rng: random.Random,
    cat: Category,
    sc: Scenario,
    problem: Problem,
    product: Product,
    channel: str,
    ctx: dict[str, object],
) -> tuple[str, str]:
    """Build クレーム内容 (opener, issue, optional detail, closing line) and the implied request."""
    prefix = pick(rng, PREFIXES[channel]) if rng.random() < 0.18 else ""
    opener = pick_kind(rng, sc.openers, product.kind) or pick_kind(rng, cat.openers, product.kind)
    if rng.random() >= 0.75:
        opener = None
    issue = pick(rng, problem.issues)
    cat_extras = () if sc.own_extras_only else cat.extras.get(product.kind) or cat.extras.get("*", ())
    extra = pick(rng, problem.extras + sc.extras + cat_extras) if rng.random() < 0.55 else None
    roll = rng.random()
    closer, want = "", ""
    if problem.closers:
        if roll < 0.85:
            closer, want = split_closer(pick(rng, problem.closers))
    elif roll < 0.15:
        closer, want = split_closer(pick(rng, cat.reported))
    elif roll < 0.5:
        closer, want = split_closer(pick(rng, cat.angry))
    elif roll < 0.9:
        closer, want = split_closer(pick(rng, cat.polite))
    if sentence_count([prefix, opener or "", issue, extra or "", closer]) > 4:
        extra = None
    if sentence_count([prefix, opener or "", issue, closer]) > 4:
        opener = None
    text = "".join(p for p in (prefix, opener, issue, extra, closer) if p)
    return text.format(**ctx), want


def choose_severity(rng: random.Random, weights: Weights3, escalated: bool) -> str:
    """Pick 高/中/低; escalated cases tend one level higher."""
    level = rng.choices(("高", "中", "低"), weights=weights)[0]
    if escalated and rng.random() < 0.6:
        level = {"低": "中", "中": "高", "高": "高"}[level]
    return level


def choose_status(rng: random.Random, received: date) -> str:
    """Mostly 完了; recent cases are more often still open."""
    if received >= date(2025, 8, 1):
        weights = (60, 30, 10)
    elif received >= date(2025, 5, 1):
        weights = (80, 14, 6)
    else:
        weights = (95, 2, 3)
    return rng.choices(("完了", "対応中", "保留"), weights=weights)[0]


def compose_response(
    rng: random.Random,
    cat: Category,
    sc: Scenario,
    problem: Problem,
    channel: str,
    status: str,
) -> tuple[str, bool, bool]:
    """Build 対応内容; return it with (first response was poor, case escalated)."""
    bad_first = rng.random() < (0.28 if cat.name == ATTITUDE else 0.14)
    escalated = rng.random() < (0.8 if bad_first else 0.03)
    if status == "対応中":
        action = pick(rng, cat.pending)
    elif status == "保留":
        action = pick(rng, ON_HOLD_ACTIONS)
    else:
        action = pick(rng, problem.actions or sc.actions or cat.actions)
    if bad_first:
        mode = "voice" if channel in VOICE_CHANNELS else "text"
        response = pick(rng, BAD_FIRST_RESPONSES[mode])
        if escalated:
            response += pick(rng, ESCALATION_FIXES)
        response += action
    elif escalated and status == "完了":
        response = action + pick(rng, OUTCOME_ESCALATIONS)
    elif rng.random() < 0.3 and "お詫び" not in action and "謝罪" not in action:
        response = pick(rng, GOOD_FIRST) + action
    else:
        response = action
    return response, bad_first, escalated


def build_case(
    rng: random.Random,
    received: datetime,
    cat: Category,
    sc: Scenario,
    product_name: str,
    seen: set[str],
    plant: Plant | None = None,
) -> Case:
    """Fill one ledger row for a scenario and product."""
    product = PRODUCTS[product_name]
    problem = rng.choice(sc.problems)
    channels = {c: 1.0 for c in sc.channels} if sc.channels else cat.channels
    channel = weighted(rng, channels)
    dept = sc.dept or cat.dept
    if sc.key == LOGIN_KEY:
        dept = rng.choice(("EC運営部", "EC運営部", "情報システム部"))
    ctx = make_context(rng, received.date(), product, dept)
    complaint, closer_want = "", ""
    for _ in range(100):
        complaint, closer_want = compose_complaint(rng, cat, sc, problem, product, channel, ctx)
        if MIN_CHARS <= len(complaint) <= MAX_CHARS and complaint not in seen:
            break
    else:
        raise RuntimeError(f"could not compose a fresh complaint for {sc.key}")
    seen.add(complaint)

    status = plant.status if plant and plant.status else choose_status(rng, received.date())
    if sc.key == LOGIN_KEY and received.year == 2025 and rng.random() < 0.5:
        status = rng.choice(("対応中", "保留"))
    response, bad_first, escalated = compose_response(rng, cat, sc, problem, channel, status)
    severity = choose_severity(rng, sc.severity or cat.severity, escalated)

    cause = plant.cause if plant and plant.cause is not None else pick(rng, problem.causes)
    if plant and plant.prevention is not None:
        prevention = plant.prevention
    elif not sc.optional_prevention or not problem.preventions:
        prevention = ""
    else:
        skip = {"高": 0.03, "中": 0.1, "低": 0.35}[severity] + (0.3 if status != "完了" else 0.0)
        prevention = "" if rng.random() < skip else pick(rng, problem.preventions)
        if prevention and escalated and bad_first and rng.random() < 0.5:
            prevention += pick(rng, RESPONSE_PREVENTIONS)

    if rng.random() < 0.1:
        wants = ""
    elif closer_want and rng.random() < 0.75:
        wants = closer_want
    else:
        wants = pick(rng, problem.wants or sc.wants or cat.wants)
    values = {
        "受付日": "",
        "件名": pick(rng, problem.titles).format(**ctx),
        "クレーム内容": complaint,
        "顧客の要望": wants,
        "発生原因": cause.format(**ctx),
        "対応内容": response.format(**ctx),
        "再発防止策": prevention,
        "分類": cat.name,
        "商品": product_name,
        "受付経路": channel,
        "重要度": severity,
        "二次クレーム": "あり" if escalated else "なし",
        "対応状況": status,
        "担当部署": dept,
    }
    return Case(received, values, plant.tag if plant else "")


def next_month(day: date) -> date:
    """First day of the month after `day`."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def month_starts() -> list[date]:
    """First day of every month in the ledger's period."""
    months, day = [], START
    while day <= END:
        months.append(day)
        day = next_month(day)
    return months


def random_time(rng: random.Random, day: date) -> datetime:
    """A plausible reception time (mostly office hours)."""
    hour = rng.choice((9, 9, 10, 10, 11, 11, 12, 13, 14, 14, 15, 15, 16, 16, 17, 18, 19, 20, 21, 22))
    return datetime(day.year, day.month, day.day, hour, rng.randrange(0, 60))


def generic_cases(rng: random.Random, seen: set[str]) -> list[Case]:
    """Background complaints, spread unevenly over the months (seasonal peaks, slow growth)."""
    months = month_starts()
    weights = [SEASON[m.month] * (1 + 0.015 * i) * rng.uniform(0.6, 1.4) for i, m in enumerate(months)]
    cases = []
    for _ in range(GENERIC_CASES):
        first = rng.choices(months, weights=weights)[0]
        day = first + timedelta(days=rng.randint(0, (next_month(first) - first).days - 1))
        cat_weights = {c.name: c.weight for c in CATEGORIES}
        if day.month in (11, 12, 1):
            cat_weights["配送遅延"] *= 1.8
        if day.month in (7, 11):
            cat_weights["システム障害"] *= 1.5
        cat = CATEGORY_BY_NAME[weighted(rng, cat_weights)]
        sc = rng.choices(cat.scenarios, weights=[s.weight for s in cat.scenarios])[0]
        product = rng.choice(sc.products)
        cases.append(build_case(rng, random_time(rng, day), cat, sc, product, seen))
    return cases


def planted_cases(rng: random.Random, seen: set[str]) -> list[Case]:
    """The four planted patterns documented in data/README.md."""
    cases = []
    for cat, sc, plants in PLANTED:
        for plant in plants:
            received = random_time(rng, plant.when)
            cases.append(build_case(rng, received, cat, sc, sc.products[0], seen, plant))
    return cases


def english_cases(rng: random.Random) -> list[Case]:
    """The hand-written English cases, with fresh order numbers."""
    cases = []
    for spec in ENGLISH_CASES:
        values = {h: spec.get(h, "") for h in HEADERS[1:]}
        values["クレーム内容"] = values["クレーム内容"].format(order=f"A{rng.randint(10000, 99999)}")
        cases.append(Case(random_time(rng, date.fromisoformat(spec["date"])), values, spec["tag"]))
    return cases


def assign_ids(rng: random.Random, cases: list[Case]) -> list[dict[str, str]]:
    """Sort by reception time, number per year, and format 受付日 (about 10% with a time)."""
    rows = []
    per_year: Counter[int] = Counter()
    for case in sorted(cases, key=lambda c: c.received):
        year = case.received.year
        per_year[year] += 1
        fmt = "%Y-%m-%d %H:%M" if rng.random() < 0.1 else "%Y/%m/%d"
        row = {
            **case.values,
            "管理番号": f"C-{year}-{per_year[year]:04d}",
            "受付日": case.received.strftime(fmt),
        }
        row["_tag"] = case.tag
        rows.append(row)
    return rows


def generate() -> list[dict[str, str]]:
    """All rows of the ledger in 管理番号 order (each with an internal '_tag' key)."""
    rng = random.Random(SEED)
    seen: set[str] = set()
    cases = generic_cases(rng, seen) + planted_cases(rng, seen) + english_cases(rng)
    return assign_ids(rng, cases)


def write_csv(rows: list[dict[str, str]], path: Path) -> None:
    """Write UTF-8 with BOM, CRLF line ends (csv module default), minimal quoting."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for row in rows:
            writer.writerow([row[h] for h in HEADERS])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line: only where to write, so tests can regenerate without touching the repo file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_PATH, help="CSV to write (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Write the CSV and print the planted patterns' case ids."""
    out = parse_args(argv).out
    rows = generate()
    write_csv(rows, out)
    print(f"wrote {len(rows)} rows to {out}")
    tags: dict[str, list[str]] = {}
    for row in rows:
        if row["_tag"]:
            tags.setdefault(row["_tag"], []).append(row["管理番号"])
    for tag in sorted(tags):
        print(f"{tag} ({len(tags[tag])}): {', '.join(tags[tag])}")


if __name__ == "__main__":
    main()
