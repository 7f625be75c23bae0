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


def clean_text(value: object) -> str:
    """Cell value as stripped text; None and NaN become ''."""
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from spreadsheets
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


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
