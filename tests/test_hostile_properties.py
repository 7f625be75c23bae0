"""Random hostile Unicode into every public text entry point (issue 16, "What it must show"):
lone surrogates, control characters, zero-widths, bidi overrides and strings of up to ~60k
UTF-8 bytes go into ledger fields (JSON, whose escapes can carry lone surrogates), queries,
feedback, the record form and drafts. Nothing may come out but the project's own errors
(KBError, IngestError), and the base must still pass `kb check` afterwards."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.case_form import case_from_form, new_case_id
from kb import KBError, KnowledgeBase, check_base, new_draft_token
from tests.conftest import write_ledger

_EXAMPLES = int(os.environ.get("KB_FUZZ_EXAMPLES", "25"))
HOSTILE = settings(max_examples=_EXAMPLES, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow, HealthCheck.data_too_large])

_NASTY = st.sampled_from(["\x00", "\x1b[2J", "\x1b]0;t\x07", "\r", "\u200b", "\u200d", "\ufeff",
                          "\u202e", "\u2066", "\x85", "\ud800", "\udfff", "\udc80", "../", "'",
                          '"', "=", "@", "\\", "\n", "\t", "＜", "⺠", "⻑", "📦", "é", "荷物"])
_CHAR = st.characters(exclude_categories=()) | st.characters(min_codepoint=0xD800,
                                                             max_codepoint=0xDFFF)
_SHORT = st.lists(_CHAR | _NASTY, max_size=30).map("".join)
# Long strings by repetition: up to 15,000 x 4-byte characters, past Sudachi's 49,149 bytes.
_LONG = st.builds(lambda piece, n: (piece * n)[:15_000],
                  st.lists(_CHAR | _NASTY, min_size=1, max_size=8).map("".join),
                  st.integers(1, 15_000))
TEXT = st.one_of(_SHORT, _SHORT, _SHORT, _LONG)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    root = tmp_path_factory.mktemp("hostile")
    with KnowledgeBase.open(root / "kb") as kb:
        kb.ingest_ledger(write_ledger(root / "ledger.csv"))
        yield kb
        report = check_base(kb.layout.root, repair=False)
        assert report.consistent, report.to_dict()


def _only_our_errors(call, *args: object, **kwargs: object) -> object:
    try:
        return call(*args, **kwargs)
    except KBError:
        return None


@HOSTILE
@given(query=TEXT, mode=st.sampled_from(["hybrid", "dense", "lexical"]))
def test_any_query_is_searched_or_refused_by_our_own_error(base: KnowledgeBase, query: str,
                                                          mode: str) -> None:
    result = _only_our_errors(base.search, query, 3, mode)
    if result is not None:
        result.query.encode("utf-8")  # what comes back is valid text


@HOSTILE
@given(query=TEXT, case_id=_SHORT, helpful=st.booleans())
def test_any_feedback_is_stored_or_refused(base: KnowledgeBase, query: str, case_id: str,
                                           helpful: bool) -> None:
    _only_our_errors(base.record_feedback, query, case_id, helpful)
    base.feedback_judgments()


@HOSTILE
@given(values=st.dictionaries(st.sampled_from(["content", "title", "cause", "response",
                                               "prevention", "product", "category", "channel",
                                               "status", "customer_request"]), TEXT, max_size=6))
def test_any_record_form_input_is_saved_or_named_as_a_problem(base: KnowledgeBase,
                                                              values: dict[str, str]) -> None:
    token = new_draft_token()
    if _only_our_errors(base.save_draft, token, values, owner="browser:x"):
        draft = base.load_draft(token, owner="browser:x")
        assert draft is not None and set(draft) == set(values)
        json.dumps(draft, ensure_ascii=False).encode("utf-8")
    case, _ = case_from_form({**values, "date": dt.date(2024, 5, 1)}, new_case_id())
    if case is not None:
        _only_our_errors(base.ingest_cases, [case])


@HOSTILE
@example(records=[{"件名": "\ud800", "クレーム内容": "0"}], lines=False)  # content_id raised
@given(records=st.lists(st.dictionaries(st.sampled_from(["管理番号", "件名", "クレーム内容", "備考"])
                                        | _SHORT, TEXT | st.booleans() | st.integers(),
                                        min_size=1, max_size=4), min_size=1, max_size=3),
       lines=st.booleans())
def test_any_json_ledger_is_ingested_or_refused_with_our_error(
        base: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory,
        records: list[dict[str, object]], lines: bool) -> None:
    folder = tmp_path_factory.mktemp("ledger")
    path = folder / ("random.jsonl" if lines else "random.json")
    text = ("\n".join(json.dumps(r) for r in records) if lines else json.dumps(records))
    path.write_text(text, encoding="utf-8")  # ASCII: lone surrogates travel as \ud800 escapes
    _only_our_errors(base.ingest_ledger, path, skip_invalid=True)
    _only_our_errors(base.ingest_ledger, path)


def test_the_property_base_is_consistent_after_all(base: KnowledgeBase, tmp_path: Path) -> None:
    assert base.stats().cases >= 8  # the fixture's check_base runs once the module is done
