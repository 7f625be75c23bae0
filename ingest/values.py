"""Parse cell values: dates in the formats Japanese offices use, yes/no flags, text."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

_ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925, "r": 2018, "h": 1988, "s": 1925}
_YMD = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[ T]+(\d{1,2})[:時](\d{1,2})(?:[:分](\d{1,2}))?(?:秒|分)?)?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_ERA = re.compile(r"^(令和|平成|昭和|[RHS])(\d{1,2}|元)[年./-](\d{1,2})[月./-](\d{1,2})日?$", re.I)
_MDY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_WEEKDAY = re.compile(r"\s*\([月火水木金土日](?:曜日?)?\)")  # 2024年4月1日(月), after NFKC
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")

_TRUE = {"あり", "有", "有り", "はい", "yes", "y", "true", "t", "1", "○", "〇", "◯", "済", "対象",
         "escalated"}
_FALSE = {"なし", "無", "無し", "いいえ", "no", "n", "false", "f", "0", "×", "✕", "-", "ー", "対象外"}
_UNKNOWN = {"", "n/a", "na", "不明", "none", "null", "nan"}


# Byte-order marks inside a file (two exports pasted together), zero-width spaces and word
# joiners: invisible, and they would make 'T-001' and '\ufeffT-001' two ids. Dropped from cells.
_INVISIBLE = re.compile("[\ufeff\u200b\u2060]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # only from JSON "\\ud800" escapes
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
MAX_ID_CHARS = 200


def clean_text(value: object) -> str:
    """Cell value as stripped text; None and NaN become ''; invisible marks are dropped."""
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from spreadsheets
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _INVISIBLE.sub("", str(value)).replace("\r\n", "\n").replace("\r", "\n").strip()


def visible(text: str) -> bool:
    """Whether `text` has a character one can see (not only spaces, controls, zero-widths)."""
    return any(not ch.isspace() and unicodedata.category(ch)[0] not in "CZ" for ch in text)


def text_problem(text: str) -> str:
    """Why a text cannot be stored as it is (a NUL byte, a lone surrogate), or ''."""
    if "\x00" in text:
        return f"contains a NUL byte (U+0000) at character {text.index(chr(0)) + 1}"
    if found := _LONE_SURROGATE.search(text):
        return (f"contains U+{ord(found.group()):04X} at character {found.start() + 1}, half of "
                "a character pair (an invalid \\u escape in JSON?)")
    return ""


def id_problem(case_id: str) -> str:
    """Why a case id cannot be used (ids name cases in links, exports and the audit log), or ''."""
    if problem := text_problem(case_id):
        return problem
    if "\n" in case_id or "\r" in case_id or "\t" in case_id:
        return "the id holds a line break or tab; an id is one line"
    if _CONTROL.search(case_id) or any(unicodedata.category(c) == "Cf" for c in case_id):
        return "the id holds a control or invisible character"
    if "../" in case_id or "..\\" in case_id or case_id in (".", ".."):
        return "the id looks like a path ('../'); use plain text"
    if len(case_id) > MAX_ID_CHARS:
        return f"the id is {len(case_id):,} characters; at most {MAX_ID_CHARS} are allowed"
    return ""


def scrub(text: str) -> str:
    """Free text typed into a search or feedback, made safe to tokenise, embed and store:
    lone surrogates become U+FFFD and control characters but tab and newline are dropped."""
    return _CONTROL.sub("", _LONE_SURROGATE.sub("\ufffd", _INVISIBLE.sub("", text)))


def parse_date(value: object) -> str | None:
    """Return ISO 'YYYY-MM-DD' (or 'YYYY-MM-DD HH:MM'); None when empty; ValueError if unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return _iso(value.date(), value.hour, value.minute) if (value.hour or value.minute) \
            else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = _WEEKDAY.sub("", unicodedata.normalize("NFKC", clean_text(value))).strip()
    if not text:
        return None
    if m := _YMD.match(text):
        y, mo, d, hh, mm = (m.group(i) for i in range(1, 6))
        day = _date(int(y), int(mo), int(d), text)
        return _iso(day, int(hh), int(mm)) if hh is not None else day.isoformat()
    if m := _ERA.match(text):
        era, year = m.group(1), m.group(2)
        base = _ERAS[era if era in _ERAS else era.lower()]
        return _date(base + (1 if year == "元" else int(year)), int(m.group(3)), int(m.group(4)),
                     text).isoformat()
    if m := _MDY.match(text):
        return _date(int(m.group(3)), int(m.group(1)), int(m.group(2)), text).isoformat()
    if m := _COMPACT.match(text):
        return _date(int(m.group(1)), int(m.group(2)), int(m.group(3)), text).isoformat()
    raise ValueError(f"unreadable date '{text}' (use e.g. 2024-04-01, 2024/4/1 or 2024年4月1日)")


def _date(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"no such date '{text}'") from None


def _iso(day: dt.date, hour: int, minute: int) -> str:
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"no such time {hour}:{minute:02d}")
    return f"{day.isoformat()} {hour:02d}:{minute:02d}"


def parse_flag(value: object) -> bool | None:
    """Read yes/no cells such as 'あり', '有', 'Yes', '1'; None when empty or N/A."""
    if isinstance(value, bool):
        return value
    text = unicodedata.normalize("NFKC", clean_text(value)).strip().lower()
    if text in _UNKNOWN:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"unreadable yes/no value '{text}' (use e.g. あり/なし or yes/no)")


# One status vocabulary (対応中 / 対応済 / 保留) for ledgers and the app; offices write 完了,
# 解決済, 未対応 ... Compared after NFKC and stripping; other values are kept as written.
_STATUS_ALIASES = {
    "対応済": ("対応済", "対応済み", "完了", "対応完了", "解決", "解決済", "解決済み", "済", "クローズ",
            "closed", "done", "resolved"),
    "対応中": ("対応中", "未対応", "処理中", "調査中", "受付", "受付済", "open", "in progress"),
    "保留": ("保留", "保留中", "ペンディング", "pending", "on hold"),
}
_STATUS = {alias: status for status, aliases in _STATUS_ALIASES.items() for alias in aliases}


def status_of(value: object) -> str:
    """The status in the app's vocabulary: 完了 -> 対応済, 未対応 -> 対応中; others unchanged."""
    text = clean_text(value)
    return _STATUS.get(unicodedata.normalize("NFKC", text).strip().lower(), text)
