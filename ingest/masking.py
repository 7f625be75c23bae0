"""Mask personal data in case text before it is stored, embedded, indexed or shown.

Phone numbers (Japanese formats, full-width digits too), e-mail addresses, postal
codes and Luhn-valid card numbers become readable tokens (＜電話番号＞ ...); the
values of name columns (氏名, 顧客名, ...) become ＜氏名＞. Matching runs on a
copy folded to ASCII one character for one character, so offsets found there
are offsets in the original text and only the personal data itself changes.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from ingest.fields import normalize_header
from ingest.person_names import name_spans
from ingest.records import Case

TOKENS: dict[str, str] = {
    "phone": "＜電話番号＞",
    "email": "＜メール＞",
    "postal": "＜郵便番号＞",
    "card": "＜カード番号＞",
    "name": "＜氏名＞",
}
KINDS: dict[str, tuple[str, str]] = {  # kind -> (English, Japanese) for reports
    "phone": ("phone number", "電話番号"),
    "email": ("e-mail address", "メールアドレス"),
    "postal": ("postal code", "郵便番号"),
    "card": ("card number", "カード番号"),
    "name": ("name", "氏名"),
}

# Columns whose whole value is a person's name; compared after normalize_header.
NAME_COLUMNS: tuple[str, ...] = (
    "氏名", "名前", "お名前", "顧客名", "お客様名", "お客さま名", "顧客氏名", "申出者", "申出者名",
    "お客様氏名", "お客さま氏名", "ご契約者", "ご契約者様", "ご契約者名", "契約者様", "契約者氏名",
    "契約者", "契約者名", "担当者", "担当者名", "対応者", "受付者", "name", "fullname",
    "customername", "contactname", "customer", "consumername", "agent", "agentname",
    # who took the complaint (ingest/case_form.py METADATA_ALIASES): an employee's name
    "受付者名", "受付担当", "受付担当者", "receivedby", "takenby",
)

# Full-width digits/letters, dashes, brackets, spaces -> ASCII, one char for one char.
_FOLD = {**{0xFF10 + i: ord("0") + i for i in range(10)},
         **{0xFF21 + i: ord("A") + i for i in range(26)},
         **{0xFF41 + i: ord("a") + i for i in range(26)},
         **dict.fromkeys(map(ord, "－‐‑‒–—―ー−﹣ｰ"), ord("-")),
         ord("（"): ord("("), ord("）"): ord(")"), ord("＋"): ord("+"), ord("＠"): ord("@"),
         ord("．"): ord("."), ord("＿"): ord("_"), ord("　"): ord(" ")}

_NOT_BEFORE = r"(?<![0-9A-Za-z+\-])"
_NOT_AFTER = r"(?![0-9A-Za-z\-])"
# What people put between digit groups: hyphens (folded), dots, slashes, tildes, middle
# dots, and spaces, also around a separator ("090 - 1234 - 5678").
_SEP = r"(?:[ ]{0,2}[-./~〜・･][ ]{0,2}|[ ]{1,2})"
# Candidates only; the digit count decides (10-11 digits from 0, 9-10 after +81), so dates
# (2024-01-15), times, amounts (12,800円) and ids with letters in front are left alone.
# Letters may touch a phone number ("TEL03-1234-5678"); digits and dashes may not.
_PHONE = re.compile(r"(?<![0-9+\-])(?:\+81" + _SEP + r"?(?:\(0\)|\(|0)?|\(?0)"
                    r"\d{1,4}(?:\)?" + _SEP + r"?|\()\d{1,4}(?:\)|" + _SEP + r")?\d{3,4}(?![0-9\-])"
                    r"|(?<![0-9])0(?: \d){9,10}(?![0-9])", re.ASCII)  # 0 9 0 1 2 3 4 5 6 7 8
_EMAIL = re.compile(r"(?:\"[^\"\n@]{1,64}\"|[A-Za-z0-9._%+-]{1,64}|[\u30a0-\u30ff\u4e00-\u9fff]{1,12})"
                    r"[ ]{0,2}(?:@|\(at\)|\[at\])[ ]{0,2}[\w-]+(?:[ ]{0,2}\.[ ]{0,2}[\w-]+)*"
                    # the top-level domain: Latin letters, or an IDN one in kanji/katakana; not
                    # any letter, or 「a@b.jpまでご連絡」 would swallow the words after it
                    r"\.[ ]{0,2}(?:[a-z]{2,63}|[\u30a0-\u30ff\u4e00-\u9fff]{2,8})(?![a-z])",
                    re.IGNORECASE)
# A card: unbroken or split by single spaces/hyphens anywhere, or in 4-4-4-4 (4-6-5) groups
# with one other separator throughout (. / double spaces, spaced hyphens). Groups, not any
# separator between any digits: 「3730-01-05 3730/01/05 00:00」 is dates, not a card.
_CARD_SEP = r"(?:[ ]{0,2}[-./][ ]{0,2}|[ ]{1,2})"
_CARD = re.compile(r"(?<![0-9\-])(?:[3-6](?:[ -]?\d){12,18}"
                   r"|[3-6]\d{3}(?P<cs>" + _CARD_SEP + r")\d{4}(?P=cs)\d{4}(?P=cs)\d{1,4}"
                   r"(?:(?P=cs)\d{1,3})?"
                   r"|3\d{3}(?P<ca>" + _CARD_SEP + r")\d{6}(?P=ca)\d{4,5})(?![0-9])", re.ASCII)
_POSTAL = re.compile(r"〒 ?\d{3}[- ]?\d{4}(?!\d)|郵便番号[:：は]?[ ]{0,2}(?P<v>\d{7}|\d{3}[- ]\d{4})(?!\d)"
                     r"|" + _NOT_BEFORE + r"\d{3}-\d{4}" + _NOT_AFTER)
# Names in free text, by the honorific or label around them: 山田太郎様, 担当：佐藤花子, Mr. Smith.
_KANJI_NAME = r"[\u4e00-\u9fff々]{2,4}(?:[ 　][\u4e00-\u9fff々]{1,3})?"
_NAME = re.compile(r"(?<![\u4e00-\u9fff々])(?P<v>" + _KANJI_NAME + r")(?:様|さま|さん|氏|殿)"
                   r"|担当(?:者)?[:：][ 　]{0,2}(?P<w>" + _KANJI_NAME + r")"
                   r"|\b(?:Mr|Ms|Mrs|Miss)\.?[ ]+(?P<x>[A-Z][a-z]+(?:[ ]+[A-Z][a-z]+)?)"
                   r"|(?:name|customer|contact)[ ]*[:：][ ]*(?P<y>[A-Z][a-z]+(?:[ ]+[A-Z][a-z]+)+)")
# Words before an honorific that are roles, not names (担当者様, 社長さん, ご家族様, 取引先様).
_ROLE_ENDINGS = set("者長員客社店部課係会族先家師手方人様主職局署所")


def _name_ok(candidate: str) -> bool:
    return candidate.strip()[-1:] not in _ROLE_ENDINGS


@dataclass(frozen=True)
class MaskPolicy:
    """Whether to mask, and which columns (or case fields) hold names to mask whole."""

    enabled: bool = True
    name_columns: frozenset[str] = field(
        default_factory=lambda: frozenset(normalize_header(c) for c in NAME_COLUMNS))
    name_fields: frozenset[str] = frozenset()  # case fields mapped from a name column
    names_in_text: bool = True  # 山田太郎様, 担当：佐藤 in free text (False: keep them)

    def with_columns(self, columns: list[str] | tuple[str, ...]) -> MaskPolicy:
        """The policy plus extra name columns (`--mask-column COL`)."""
        extra = {normalize_header(c) for c in columns}
        return dataclasses.replace(self, name_columns=self.name_columns | extra)

    def is_name_column(self, column: str) -> bool:
        return normalize_header(column) in self.name_columns

    def for_mapping(self, mapping: dict[str, str]) -> MaskPolicy:
        """Mask whole any case field a ledger filled from a name column."""
        fields_ = {f for f, column in mapping.items() if f != "id" and self.is_name_column(column)}
        return dataclasses.replace(self, name_fields=frozenset(fields_))


NO_MASKING = MaskPolicy(enabled=False)


def _phone_digits_ok(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if candidate.startswith("+"):
        national = digits[2:].removeprefix("0")
        return 9 <= len(national) <= 10
    return digits.startswith("0") and 10 <= len(digits) <= 11


def _luhn_ok(candidate: str) -> bool:
    digits = [int(d) for d in re.sub(r"\D", "", candidate)]
    if not 13 <= len(digits) <= 19:
        return False
    if len(digits) == 13 and candidate.isdigit() and candidate[:2] in ("45", "49"):
        return False  # a JAN/EAN-13 product barcode, not a card
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_MAYBE = re.compile(r"[\d@＠﹫〇一二三四五六七八九①-⑨]|\(at\)|\[at\]|様|さま|さん|氏|殿|担当|M(?:r|s|iss)",
                    re.IGNORECASE)
_RULES: tuple[tuple[str, re.Pattern[str], object], ...] = (
    ("email", _EMAIL, None),
    ("phone", _PHONE, _phone_digits_ok),
    ("card", _CARD, _luhn_ok),
    ("postal", _POSTAL, None),
    ("name", _NAME, _name_ok),
)
# Invisible characters that split a number or address to slip past matching.
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e")
_KANJI_DIGITS = dict(zip("〇一二三四五六七八九", "0123456789", strict=True))


@functools.lru_cache(maxsize=8192)
def _seen_as(ch: str, digits: bool) -> str:
    """What one character is for matching: NFKC (full-width, mathematical, circled digits),
    then the fold of dashes and brackets; with `digits` also any script's digit as 0-9
    (Arabic-Indic too) and kanji numerals as digits (not for names: 鈴木一郎)."""
    if digits and ch in _KANJI_DIGITS:
        return _KANJI_DIGITS[ch]
    if digits and (digit := unicodedata.decimal(ch, None)) is not None:
        return str(digit)
    return unicodedata.normalize("NFKC", ch).translate(_FOLD)


def _view(text: str, digits: bool = True) -> tuple[str, list[int]]:
    """`text` as the rules read it (zero-width characters dropped, each character normalised)
    and, for each character of that view, its position in `text`."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch in _ZERO_WIDTH:
            continue
        seen = _seen_as(ch, digits)
        out.append(seen)
        where.extend([i] * len(seen))
    return "".join(out), where


def _span(match: re.Match[str]) -> tuple[int, int]:
    """The part of a match that is personal data (a labelled value, or the whole match)."""
    for group in ("v", "w", "x", "y"):
        if group in match.re.groupindex and match.group(group) is not None:
            return match.span(group)
    return match.span()


def _value(match: re.Match[str]) -> str:
    start, end = _span(match)
    return match.string[start:end]


def mask_text(text: str, names: bool = True) -> tuple[str, Counter[str]]:
    """`text` with personal data replaced by tokens, and how many of each kind; `names` also
    masks names in free text: by honorific or label, or full names as Sudachi tags them."""
    counts: Counter[str] = Counter()
    if text and _MAYBE.search(text):  # most cells: no digit, no @, no honorific
        text = _apply_rules(text, names, counts)
    if text and names and (spans := name_spans(text)):  # bare full names: 鈴木一郎, John Smith
        counts["name"] += len(spans)
        text = _replaced(text, spans, TOKENS["name"])
    return text, counts


def _replaced(text: str, spans: list[tuple[int, int]], token: str) -> str:
    pieces: list[str] = []
    last = 0
    for start, end in spans:
        pieces += [text[last:start], token]
        last = end
    return "".join(pieces) + text[last:]


def _apply_rules(text: str, names: bool, counts: Counter[str]) -> str:
    """Each pattern in turn on the normalised view; its matches replaced in `text`."""
    views: dict[bool, tuple[str, list[int]]] = {}  # made again only after a replacement
    for kind, pattern, check in _RULES:
        if kind == "name" and not names:
            continue
        digits = kind != "name"
        if digits not in views:
            views[digits] = _view(text, digits)
        view, where = views[digits]
        spans = [_span(m) for m in pattern.finditer(view)
                 if check is None or check(_value(m))]  # type: ignore[operator]
        spans = [(where[a], where[b - 1] + 1) for a, b in spans if b > a]
        if not spans:
            continue
        counts[kind] += len(spans)
        text = _replaced(text, spans, TOKENS[kind])
        views.clear()
    return text


_TEXT_FIELDS = ("title", "content", "customer_request", "cause", "response", "prevention",
                "category", "product", "channel", "severity", "status")


def mask_case(case: Case, policy: MaskPolicy) -> tuple[Case, Counter[str]]:
    """The case with every text field and metadata value masked; an id or file name that is
    personal data too (dates kept)."""
    counts: Counter[str] = Counter()
    if not policy.enabled:
        return case, counts
    changes: dict[str, object] = {}
    for name in _TEXT_FIELDS:
        value = getattr(case, name)
        if not value:
            continue
        if name in policy.name_fields:
            if value != TOKENS["name"]:
                changes[name] = TOKENS["name"]
                counts["name"] += 1
            continue
        masked, found = mask_text(value, policy.names_in_text)
        if found:
            changes[name] = masked
            counts.update(found)
    metadata: dict[str, str] = {}
    for column, value in case.metadata.items():
        if value and policy.is_name_column(column):
            metadata[column] = TOKENS["name"]
            if value != TOKENS["name"]:
                counts["name"] += 1
        else:
            metadata[column], found = mask_text(value, policy.names_in_text)
            counts.update(found)
    if metadata != case.metadata:
        changes["metadata"] = metadata
    changes.update(_id_and_source(case, counts))
    return (dataclasses.replace(case, **changes) if changes else case), counts


def masked_id(case_id: str) -> str:
    """A stable stand-in for an id that is personal data: the same id always gets the same
    stand-in, so re-importing the ledger updates the case instead of adding a second one."""
    return "m" + hashlib.sha1(case_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _id_and_source(case: Case, counts: Counter[str]) -> dict[str, str]:
    """An id that is an e-mail address or a written-out phone or card number (not a bare
    zero-padded number: ledgers number cases 0000012345), and a file name holding one."""
    changes: dict[str, str] = {}
    _, found = mask_text(case.id, names=False)
    if "email" in found or (found and not case.id.isdigit()):
        changes["id"] = masked_id(case.id)
        counts.update(found)
    source, found = mask_text(case.source, names=False)
    if found:
        changes["source"] = source
        counts.update(found)
    return changes


def describe_counts(counts: Counter[str] | dict[str, int], lang: str = "en") -> str:
    """'masked 12 phone numbers, 3 e-mail addresses' (or the Japanese form); '' if none."""
    items = [(kind, n) for kind in KINDS if (n := counts.get(kind, 0))]
    if not items:
        return ""
    if lang == "ja":
        return "マスキング：" + "、".join(f"{KINDS[k][1]} {n} 件" for k, n in items)
    return "masked " + ", ".join(f"{n} {KINDS[k][0]}{_plural(k, n)}" for k, n in items)


def _plural(kind: str, n: int) -> str:
    if n == 1:
        return ""
    return "es" if kind == "email" else "s"
