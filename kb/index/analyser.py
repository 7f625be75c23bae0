"""Japanese-aware tokens for the lexical index: NFKC, SudachiPy, normalised forms.

Sudachi splits compounds (mode A) and gives normalised forms, so 届かない and
届いていない both index 届く. Latin words keep their lower-cased surface
(Sudachi would turn 'package' into パッケージ). Particles, auxiliaries,
punctuation and a few very common words are dropped.
"""

from __future__ import annotations

import re
import unicodedata

from ingest.radicals import fold_radicals
from ingest.sudachi import tokenizer

ANALYSER_NAME = "sudachi-core-A-normalized-nfkc-v1"

_DROP_POS = {"助詞", "助動詞", "補助記号", "空白", "記号"}
_STOP_JA = {"為る", "する", "居る", "いる", "有る", "ある", "成る", "なる", "言う", "いう", "こと",
            "もの", "よう", "これ", "それ", "あれ", "この", "その", "ため", "とき", "ところ", "れる",
            "られる", "せる", "てる", "おる", "くる", "いく", "やる", "です", "ます", "さん", "様"}
_STOP_EN = frozenset(
    """
    a an and are as at be been but by can could did do does for from had has have he her
    his i if in into is it its me my no not of on or our she so than that the their them
    then there they this to was we were what when which who will with would you your
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_LATIN = re.compile(r"^[0-9a-z][0-9a-z.'+#&-]*$")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def normalize(text: str) -> str:
    """NFKC (folds full-width, half-width kana and Kangxi radicals such as ⽇ into 日), then the
    radical forms NFKC keeps (⺠ → 民, ⻑ → 長: ingest/radicals.py); a lone surrogate, which
    Sudachi cannot take, becomes U+FFFD."""
    return fold_radicals(unicodedata.normalize("NFKC", _LONE_SURROGATE.sub("\ufffd", text)))


def tokens(text: str) -> list[str]:
    """Content tokens of `text`, in order, for indexing and querying."""
    from sudachipy import SplitMode

    text = normalize(text).lower()
    out: list[str] = []
    # Sudachi caps input size; long texts are fed in pieces at line breaks.
    for piece in _pieces(text):
        for m in tokenizer().tokenize(piece, SplitMode.A):
            if m.part_of_speech()[0] in _DROP_POS:
                continue
            surface = m.surface()
            token = surface if _LATIN.match(surface) else normalize(m.normalized_form()).lower()
            if token in _STOP_JA or token in _STOP_EN or not token.strip() or _is_kana1(token):
                continue
            out.append(token)
    return out


def _is_kana1(token: str) -> bool:
    """Single hiragana such as the さ of 高さ: noise for BM25."""
    return len(token) == 1 and "\u3041" <= token <= "\u309f"


# Sudachi refuses input over 49,149 bytes of UTF-8: 12,000 characters of at most 4 bytes
# each always fit, whatever the script (16,000 kanji or 12,000 emoji did not, at 20,000).
PIECE_CHARS = 12_000
_BREAKS = ("\n", "。", "．", ". ", "！", "？", "、", " ")


def _pieces(text: str, size: int = PIECE_CHARS) -> list[str]:
    """`text` in pieces Sudachi accepts, cut after a line or sentence end where one is near."""
    pieces: list[str] = []
    while len(text) > size:
        cut = max((text.rfind(mark, size // 2, size) + len(mark) for mark in _BREAKS
                   if text.rfind(mark, size // 2, size) >= 0), default=size)
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text]


FTS_TERM = re.compile(r"[^\W_]+")  # a term as FTS5's unicode61 tokenizer cuts it


def fts_terms(token: str) -> list[str]:
    """The terms FTS5 stores for one of our tokens (usually the token itself)."""
    return FTS_TERM.findall(token)


def fts_document(text: str) -> str:
    """Space-joined tokens as stored in FTS5."""
    return " ".join(tokens(text))


def fts_query(text: str) -> str:
    """An FTS5 OR-query over the distinct tokens of `text`; '' when nothing is searchable.

    A token FTS5's unicode61 tokenizer would split (wi-fi, 1.5) becomes its parts, so
    FTS5 and the in-memory BM25 (kb/index/bm25_memory.py) score the same terms; quoted
    whole, FTS5 would match it as a phrase, which an inverted index of terms cannot.
    """
    distinct = dict.fromkeys(part for token in tokens(text) for part in fts_terms(token))
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in distinct)


def _located_tokens(text: str) -> list[tuple[str, int, int, str | None]]:
    """(token, start, end, dictionary form) of every morpheme, with offsets into the original
    `text`; the dictionary form only for verbs and adjectives (their surface is a stem).

    Text is normalised character by character so offsets map back to the original
    (NFKC may change lengths).
    """
    from sudachipy import SplitMode

    normalised: list[str] = []
    source: list[int] = []
    for i, ch in enumerate(text):
        for out in normalize(ch).lower():
            normalised.append(out)
            source.append(i)
    flat = "".join(normalised)
    found: list[tuple[str, int, int, str | None]] = []
    offset = 0
    for piece in _pieces(flat):
        for m in tokenizer().tokenize(piece, SplitMode.A):
            surface = m.surface()
            token = surface if _LATIN.match(surface) else normalize(m.normalized_form()).lower()
            if m.end() > m.begin():
                found.append((token, source[offset + m.begin()], source[offset + m.end() - 1] + 1,
                              m.dictionary_form() if m.part_of_speech()[0] in _INFLECTED
                              else None))
        offset += len(piece)
    return found


def match_spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """(start, end) offsets in the original `text` of words whose token is in `terms`
    (merged where they touch): used to highlight why a case matched."""
    if not terms or not text:
        return []
    spans: list[tuple[int, int]] = []
    for token, start, end, _ in _located_tokens(text):
        if token not in terms:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


_INFLECTED = {"動詞", "形容詞"}


# Words that match nearly every complaint and so explain no match (shown terms only).
_UNEXPLAINING = {"商品", "注文", "購入", "お客様", "客", "連絡", "対応", "今回", "件", "場合", "ない", "無い"}


def typed_words(query: str) -> dict[str, str]:
    """token -> the word as the user typed it (たらい回し, not the normalised 盥回し), for the
    tokens worth showing as "matched": no single characters, bare numbers or stop words."""
    words: dict[str, str] = {}
    for token, start, end, dictionary in _located_tokens(query):
        # 届い of 届いた reads badly: verbs and adjectives show their dictionary form.
        typed = dictionary or query[start:end]
        if (len(typed) < 2 or token.isdigit() or typed.isdigit() or token in _STOP_JA
                or token in _STOP_EN or token in _UNEXPLAINING or typed in _UNEXPLAINING):
            continue
        words.setdefault(token, typed)
    return words
