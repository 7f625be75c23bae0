"""Mask personal data in case text before it is stored, embedded, indexed or shown.

Phone numbers (Japanese formats, full-width digits too), e-mail addresses, postal
codes and Luhn-valid card numbers become readable tokens (＜電話番号＞ ...); the
values of name columns (氏名, 顧客名, ...) become ＜氏名＞. Matching runs on a
copy folded to ASCII one character for one character, so offsets found there
are offsets in the original text and only the personal data itself changes.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass, field

from ingest.fields import normalize_header
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
    "契約者", "契約者名", "担当者", "担当者名", "対応者", "受付者", "name", "fullname",
    "customername", "contactname", "customer", "consumername", "agent", "agentname",
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
# Candidates only; the digit count decides (10-11 digits from 0, 9-10 after +81), so dates
# (2024-01-15), times, amounts (12,800円) and ids with letters in front are left alone.
# Letters may touch a phone number ("TEL03-1234-5678"); digits and dashes may not.
_PHONE = re.compile(r"(?<![0-9+\-])(?:\+81[ -]?(?:\(0\)|\(|0)?|\(?0)"
                    r"\d{1,4}(?:\)?[ -]?|\()\d{1,4}[ )-]?\d{3,4}(?![0-9\-])", re.ASCII)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", re.ASCII)
_CARD = re.compile(r"(?<![0-9\-])[3-6](?:[ -]?\d){12,18}(?![0-9])", re.ASCII)
_POSTAL = re.compile(r"〒 ?\d{3}-?\d{4}(?!\d)|" + _NOT_BEFORE + r"\d{3}-\d{4}" + _NOT_AFTER,
                     re.ASCII)


@dataclass(frozen=True)
class MaskPolicy:
    """Whether to mask, and which columns (or case fields) hold names to mask whole."""

    enabled: bool = True
    name_columns: frozenset[str] = field(
        default_factory=lambda: frozenset(normalize_header(c) for c in NAME_COLUMNS))
    name_fields: frozenset[str] = frozenset()  # case fields mapped from a name column

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


def _fold(text: str) -> str:
    return text.translate(_FOLD)


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


_MAYBE = re.compile(r"[0-9０-９@＠]")
_RULES: tuple[tuple[str, re.Pattern[str], object], ...] = (
    ("email", _EMAIL, None),
    ("phone", _PHONE, _phone_digits_ok),
    ("card", _CARD, _luhn_ok),
    ("postal", _POSTAL, None),
)


def mask_text(text: str) -> tuple[str, Counter[str]]:
    """`text` with personal data replaced by tokens, and how many of each kind."""
    counts: Counter[str] = Counter()
    if not text or not _MAYBE.search(text):  # most cells: no digit, no @
        return text, counts
    folded = _fold(text)
    for kind, pattern, check in _RULES:
        spans = [m.span() for m in pattern.finditer(folded)
                 if check is None or check(m.group())]  # type: ignore[operator]
        if not spans:
            continue
        counts[kind] += len(spans)
        pieces: list[str] = []
        last = 0
        for start, end in spans:
            pieces += [text[last:start], TOKENS[kind]]
            last = end
        text = "".join(pieces) + text[last:]
        folded = _fold(text)
    return text, counts


_TEXT_FIELDS = ("title", "content", "customer_request", "cause", "response", "prevention",
                "category", "product", "channel", "severity", "status")


def mask_case(case: Case, policy: MaskPolicy) -> tuple[Case, Counter[str]]:
    """The case with every text field and metadata value masked (ids and dates kept)."""
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
        masked, found = mask_text(value)
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
            metadata[column], found = mask_text(value)
            counts.update(found)
    if metadata != case.metadata:
        changes["metadata"] = metadata
    return (dataclasses.replace(case, **changes) if changes else case), counts


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
