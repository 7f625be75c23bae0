"""Property-based tests (hypothesis): whatever the input, nothing raises but our own clear
errors, and the invariants staff rely on hold (chunks cover the text, masking leaves no
phone number or e-mail, queries never break FTS5)."""

from __future__ import annotations

import os
import re
import sqlite3
import string
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ingest.chunking import chunk_text
from ingest.errors import IngestError
from ingest.fields import FIELD_ALIASES, map_headers
from ingest.ledger import read_ledger
from ingest.masking import mask_text
from ingest.records import CASE_FIELDS
from ingest.values import parse_date, parse_flag
from kb.index import analyser
from kb.knowledge_base import KnowledgeBase
from kb.storage.filters import Filters

# Modest by default (the file runs in seconds); KB_FUZZ_EXAMPLES=2000 for a long hunt.
_EXAMPLES = int(os.environ.get("KB_FUZZ_EXAMPLES", "150"))
FAST = settings(max_examples=_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=max(_EXAMPLES // 3, 10), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text that looks like ledgers: Japanese, ASCII, full-width, punctuation, FTS5 syntax, controls.
_ALPHABET = st.sampled_from(list(
    "あいうえおかきくけこ荷物届遅延請求返金電話番号二重。、！？「」（）・ー―〜　０１２３４５６７８９ＡＢ＠－"
    "abcXYZ0123456789 \t\n\r,;:\"'*^()[]{}<>-+=@.#/\\|&!?~`$%_")) | st.characters(
    blacklist_categories=("Cs",))  # lone surrogates cannot be written to a file at all
TEXT = st.text(_ALPHABET, max_size=300)
HEADER = st.one_of(st.sampled_from([a for aliases in FIELD_ALIASES.values() for a in aliases]),
                   st.text(_ALPHABET, max_size=12))


@FAST
@given(data=st.binary(max_size=2000),
       suffix=st.sampled_from([".csv", ".tsv", ".txt", ".json", ".jsonl", ".xlsx"]))
def test_read_ledger_on_random_bytes_raises_only_ingest_errors(tmp_path: Path, data: bytes,
                                                               suffix: str) -> None:
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    try:
        read = read_ledger(path)
    except IngestError as exc:
        assert str(exc).startswith(str(path))
        return
    assert "content" in read.mapping
    assert len(read.cases) + len({e.location for e in read.errors}) <= read.total_rows


@FAST
@given(headers=st.lists(HEADER, min_size=1, max_size=6),
       rows=st.lists(st.lists(TEXT, max_size=7), max_size=8))
def test_read_ledger_on_random_csv_text(tmp_path: Path, headers: list[str],
                                        rows: list[list[str]]) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["クレーム内容", *headers])
    writer.writerows(rows)
    path = tmp_path / "random.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        read = read_ledger(path)
    except IngestError:
        return
    for case in read.cases:
        assert case.content and case.content == case.content.strip()
    for error in read.errors:
        assert error.location.startswith("line ") and str(error).startswith(str(path))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HEADER, inner, max_size=4),
    max_leaves=12)


@FAST
@given(records=st.one_of(JSON, st.lists(st.dictionaries(HEADER, JSON, max_size=5), max_size=5)),
       lines=st.booleans())
def test_read_ledger_on_random_json_raises_only_ingest_errors(tmp_path: Path, records: object,
                                                              lines: bool) -> None:
    import json

    if lines and isinstance(records, list):
        path = tmp_path / "random.jsonl"
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records),
                        encoding="utf-8")
    else:
        path = tmp_path / "random.json"
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    try:
        read = read_ledger(path)
    except IngestError:
        return
    assert all(case.content for case in read.cases)


@FAST
@given(headers=st.lists(HEADER, max_size=10, unique=True),
       picks=st.dictionaries(st.sampled_from(CASE_FIELDS), st.integers(0, 9), max_size=3))
def test_map_headers_maps_each_column_once_to_a_known_field(headers: list[str],
                                                            picks: dict[str, int]) -> None:
    overrides = {f: headers[i] for f, i in picks.items() if i < len(headers)}
    assume(len(set(overrides.values())) == len(overrides))
    mapping = map_headers(headers, overrides)
    assert set(mapping) <= set(CASE_FIELDS)
    assert set(mapping.values()) <= set(headers)
    assert len(set(mapping.values())) == len(mapping)  # no column feeds two fields
    assert all(mapping[f] == c for f, c in overrides.items() if c)
    assert not any(f in mapping for f, c in overrides.items() if not c)  # '' means: leave unmapped
    assert map_headers(headers, overrides) == mapping


def _visible(text: str) -> str:
    return re.sub(r"\s+", "", text)


@FAST
@given(text=TEXT, max_chars=st.integers(1, 120))
def test_chunks_are_bounded_non_empty_and_cover_the_text(text: str, max_chars: int) -> None:
    chunks = chunk_text(text, max_chars)
    assert all(chunk.strip() for chunk in chunks)
    assert all(len(chunk) <= max_chars for chunk in chunks)
    assert _visible("".join(chunks)) == _visible(text)  # nothing lost, nothing reordered
    assert (chunks == []) == (text.strip() == "")


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(a, b, tokenize = 'unicode61 remove_diacritics 0')")
    for text in ("荷物 届く 遅い", "請求 二重 返金", "package arrive late"):
        db.execute("INSERT INTO t VALUES (?, '')", (text,))
    return db


@FAST
@given(text=TEXT)
def test_any_query_makes_a_valid_fts5_match(fts: sqlite3.Connection, text: str) -> None:
    tokens = analyser.tokens(text)
    assert all(t and t == t.strip() for t in tokens)
    match = analyser.fts_query(text)
    if match:
        fts.execute("SELECT rowid, bm25(t) FROM t WHERE t MATCH ?", (match,)).fetchall()
    document = analyser.fts_document(text)
    fts.execute("SELECT count(*) FROM t WHERE t MATCH ?", ('"' + document.replace('"', '""') + '"',))


@FAST
@given(text=TEXT)
def test_match_spans_stay_inside_the_text(text: str) -> None:
    terms = set(analyser.tokens(text))
    spans = analyser.match_spans(text, terms)
    assert all(0 <= a < b <= len(text) for a, b in spans)
    assert all(spans[i][1] < spans[i + 1][0] or spans[i][1] <= spans[i + 1][0]
               for i in range(len(spans) - 1))


@FAST
@given(value=st.one_of(TEXT, st.integers(), st.floats(), st.none(), st.booleans()))
def test_cell_parsers_raise_only_value_errors_that_quote_the_value(value: object) -> None:
    for parse in (parse_date, parse_flag):
        try:
            parse(value)
        except ValueError as exc:
            assert "'" in str(exc)


# ---- masking ----
def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(string.digits), min_size=n, max_size=n)


@st.composite
def phones(draw: st.DrawFn) -> str:
    """Japanese phone numbers as people write them, full-width sometimes."""
    shape = draw(st.sampled_from(["0{a}-{b}-{c}", "0{a}{b}{c}", "(0{a}){b}-{c}", "0{a}({b}){c}",
                                  "+81-{a}-{b}-{c}", "+81 {a} {b} {c}", "0{a} {b} {c}"]))
    area = draw(st.sampled_from(["3", "6", "90", "80", "70", "45", "120", "50", "11", "466"]))
    if area == "120":  # 0120-123-456
        middle, last = 3, 3
    elif area in ("90", "80", "70", "50"):  # mobile and IP phones: 090-1234-5678
        middle, last = 4, 4
    else:  # landlines: area + middle = 5 digits, then 4
        middle, last = 5 - len(area), 4
    a, b, c = area, draw(_digits(middle)), draw(_digits(last))
    number = shape.format(a=a, b=b, c=c)
    if draw(st.booleans()):
        number = unicodedata.normalize("NFKC", number).translate(
            {ord(d): 0xFF10 + int(d) for d in string.digits} | {ord("-"): ord("－")})
    return number


EMAILS = st.from_regex(r"\A[a-z][a-z0-9._+-]{0,10}@[a-z0-9]{1,8}(\.[a-z]{2,4}){1,2}\Z")
FILLER = st.text(st.sampled_from(list("荷物が届かない。連絡は、まで お願いします（）「」 abcTEL:")),
                 max_size=12)


# What separates two pieces of personal data in real text (two e-mails run together are one).
SEPARATOR = st.sampled_from([" ", "、", "。", "：", "（", "）", "\n", "／", "まで", "　"])


@FAST
@given(parts=st.lists(st.tuples(FILLER, SEPARATOR, st.one_of(phones(), EMAILS)), min_size=1,
                      max_size=4), tail=FILLER)
def test_masking_leaves_no_phone_number_or_email(parts: list[tuple[str, str, str]],
                                                 tail: str) -> None:
    text = "".join(f"{before}{sep}{secret}" for before, sep, secret in parts) + "。" + tail
    parts = [(before, secret) for before, _, secret in parts]
    masked, counts = mask_text(text)
    for _, secret in parts:
        assert secret not in masked
    assert "@" not in masked and "＠" not in masked
    assert not re.search(r"\d{4}", unicodedata.normalize("NFKC", masked)), masked
    assert sum(counts.values()) == len(parts)


@FAST
@given(text=TEXT)
def test_masking_is_idempotent_and_only_replaces(text: str) -> None:
    masked, _ = mask_text(text)
    assert mask_text(masked) == (masked, {})
    kept = re.sub(r"＜(電話番号|メール|郵便番号|カード番号)＞", "", masked)
    assert len(kept) <= len(text)


@FAST
@given(day=st.dates(), amount=st.integers(0, 10**7), order=st.integers(0, 10**9),
       hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_masking_keeps_dates_amounts_times_and_order_numbers(day: object, amount: int, order: int,
                                                             hour: int, minute: int) -> None:
    text = (f"{day.isoformat()} {day:%Y/%m/%d} {hour:02d}:{minute:02d} に {amount:,}円 "
            f"注文番号 ORD-{order:09d} 型番 KT-{amount % 1000}")
    assert mask_text(text) == (text, {})


# ---- search on a real base ----
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    from tests.conftest import write_ledger

    root = tmp_path_factory.mktemp("prop")
    kb = KnowledgeBase.open(root / "kb")
    kb.ingest_ledger(write_ledger(root / "ledger.csv"))
    yield kb
    kb.close()


FILTERS = st.builds(
    Filters,
    date_from=st.one_of(st.none(), st.dates().map(str), TEXT),
    date_to=st.one_of(st.none(), st.dates().map(str)),
    categories=st.lists(st.one_of(st.sampled_from(["配送遅延", "誤配送"]), TEXT), max_size=2)
    .map(tuple),
    products=st.lists(TEXT, max_size=2).map(tuple),
    channels=st.lists(st.sampled_from(["電話", "メール"]), max_size=2).map(tuple),
    escalated=st.one_of(st.none(), st.booleans()),
)


@SLOW
@given(query=TEXT, filters=FILTERS, mode=st.sampled_from(["hybrid", "dense", "lexical"]),
       top_k=st.integers(1, 30))
def test_search_on_any_query_and_filters_returns_ranked_matching_cases(
        base: KnowledgeBase, query: str, filters: Filters, mode: str, top_k: int) -> None:
    result = base.search(query, top_k=top_k, mode=mode, filters=filters)
    assert len(result.hits) <= top_k
    ids = [h.case.id for h in result.hits]
    assert len(ids) == len(set(ids))
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    for hit in result.hits:
        if filters.categories:
            assert hit.case.category in filters.categories
        if filters.escalated is not None:
            assert bool(hit.case.escalated) == filters.escalated
