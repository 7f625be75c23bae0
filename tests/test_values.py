"""Cell values as offices write them: dates, yes/no flags, and long text split into chunks."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.chunking import chunk_text
from ingest.values import parse_date, parse_flag


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-04-01", "2024-04-01"),
    ("2024/4/1", "2024-04-01"),
    ("2024/04/01", "2024-04-01"),
    ("2024.04.01", "2024-04-01"),
    ("2024年4月1日", "2024-04-01"),
    ("令和6年4月1日", "2024-04-01"),
    ("令和元年5月1日", "2019-05-01"),
    ("平成31年4月30日", "2019-04-30"),
    ("R6.4.1", "2024-04-01"),
    ("H31.4.30", "2019-04-30"),
    ("20240401", "2024-04-01"),
    ("4/1/2024", "2024-04-01"),  # US month/day/year (CFPB exports)
    ("2024-04-01 09:30", "2024-04-01 09:30"),
    ("2024/4/1 9:05", "2024-04-01 09:05"),
    ("2024-04-01T09:30:00", "2024-04-01 09:30"),
    ("２０２４／０４／０１", "2024-04-01"),  # full-width digits and slashes
    ("  2024/4/1  ", "2024-04-01"),
    (dt.datetime(2024, 4, 1, 9, 30), "2024-04-01 09:30"),
    (dt.datetime(2024, 4, 1), "2024-04-01"),  # an Excel date cell at midnight is just a date
    (dt.date(2024, 4, 1), "2024-04-01"),
    (20240401, "2024-04-01"),  # a number cell in a spreadsheet
    ("", None),
    ("   ", None),
    (None, None),
])
def test_parse_date_reads_office_formats(value: object, expected: str | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("2024/13/45", "no such date '2024/13/45'"),
    ("2024/2/30", "no such date '2024/2/30'"),
    ("令和6年2月30日", "no such date '令和6年2月30日'"),
    ("2024-04-01 25:00", "no such time 25:00"),
    ("来週", "unreadable date '来週'"),
    ("2024", "unreadable date '2024'"),
    ("April first", "unreadable date 'April first'"),
])
def test_parse_date_rejects_with_a_message_quoting_the_value(value: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")) as info:
        parse_date(value)
    if "unreadable" in message:
        assert "2024-04-01" in str(info.value)  # tells the user what would work


@pytest.mark.parametrize(("value", "expected"), [
    ("あり", True), ("なし", False),
    ("有", True), ("無", False),
    ("有り", True), ("無し", False),
    ("はい", True), ("いいえ", False),
    ("yes", True), ("no", False),
    ("Yes", True), ("NO", False),
    ("ＹＥＳ", True),  # full-width
    ("○", True), ("×", False),
    ("1", True), ("0", False),
    (True, True), (False, False),
    ("N/A", None), ("不明", None), ("", None), ("  ", None), (None, None),
])
def test_parse_flag_reads_yes_no_cells(value: object, expected: bool | None) -> None:
    assert parse_flag(value) is expected


@pytest.mark.parametrize("value", ["たぶん", "maybe", "要確認"])
def test_parse_flag_rejects_unknown_values(value: str) -> None:
    with pytest.raises(ValueError, match=f"unreadable yes/no value '{value}'") as info:
        parse_flag(value)
    assert "あり/なし" in str(info.value)


SENTENCES = [f"第{i}報：お客様から、注文した商品が予定日を過ぎても届かないとの申し出がありました。"
             for i in range(1, 31)]


def test_chunk_text_keeps_short_text_whole() -> None:
    text = "注文した荷物が届かない。追跡番号も動いていない。"
    assert chunk_text(text, max_chars=100) == [text]
    assert chunk_text("  前後の空白は落とす。 \n", max_chars=100) == ["前後の空白は落とす。"]
    assert chunk_text("", max_chars=100) == []


def test_chunk_text_splits_long_japanese_text_at_sentence_ends() -> None:
    text = "".join(SENTENCES)
    chunks = chunk_text(text, max_chars=120)
    assert len(chunks) > 1
    assert all(len(chunk) <= 120 for chunk in chunks)
    assert all(chunk.endswith("。") for chunk in chunks)  # never cut mid-sentence
    joined = "".join(chunks)
    assert joined == text  # nothing lost, nothing added
    for sentence in SENTENCES:
        assert sum(sentence in chunk for chunk in chunks) == 1  # each sentence whole, in one chunk


def test_chunk_text_cuts_an_overlong_sentence_without_losing_text() -> None:
    text = "あ" * 250 + "。" + "短い文。"
    chunks = chunk_text(text, max_chars=100)
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert "".join(chunks) == text


def test_chunk_text_keeps_spaces_between_english_sentences() -> None:
    text = " ".join(f"Sentence number {i} says the parcel is late." for i in range(20))
    chunks = chunk_text(text, max_chars=100)
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert " ".join(chunks) == text
