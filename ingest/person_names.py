"""Full names in free text as SudachiPy tags them (名詞,固有名詞,人名): a surname directly followed
by a given name (鈴木一郎, 山田 太郎), or two capitalised English names (John Smith).

Names with an honorific or a label (山田様, 担当：佐藤) are found by ingest/masking.py's
patterns; this finds the bare full names those miss. One tag alone is not enough: on the
sample ledger Sudachi also tags 高 (in 高い), マイク, "page" and "June" as names, so only a
surname + given-name pair, or two capitalised words both tagged, count.
"""

from __future__ import annotations

import re

from ingest.sudachi import tokenizer

_PIECE = 12_000  # characters: always under Sudachi's 49,149-byte input limit
_SURNAME = re.compile(r"^[\u4e00-\u9fff々]{2,4}$")  # 高 (of 高い) is tagged as a surname too
_LATIN_NAME = re.compile(r"^[A-Z][a-z]+$")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def name_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each full name in `text`, in order, not overlapping."""
    from sudachipy import SplitMode

    spans: list[tuple[int, int]] = []
    text = _LONE_SURROGATE.sub("\ufffd", text)  # Sudachi cannot take one; offsets stay
    for offset in range(0, len(text), _PIECE):
        morphemes = [(m.begin() + offset, m.end() + offset, m.surface(), m.part_of_speech())
                     for m in tokenizer().tokenize(text[offset:offset + _PIECE], SplitMode.C)
                     if m.surface().strip()]
        for (start, _, first, pos1), (_, end, second, pos2) in zip(morphemes, morphemes[1:],
                                                                 strict=False):
            if spans and start < spans[-1][1]:
                continue
            if pos1[2] != "人名" or pos2[2] != "人名":
                continue
            japanese = (pos1[3], pos2[3]) == ("姓", "名") and bool(_SURNAME.match(first))
            english = bool(_LATIN_NAME.match(first) and _LATIN_NAME.match(second))
            if japanese or english:
                spans.append((start, end))
    return spans
