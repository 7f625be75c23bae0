"""What the core reports in English or as identifiers, worded for staff in their language.

`ingest/` and `kb/` speak English (the CLI's language, and what logs and tests match);
the pages show Japanese first. Row errors keep their structure (place, column, reason),
so each known reason is matched here and re-worded with its values; an unknown one is
shown as it came, never dropped.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path

from ui.i18n import lang

# "line 12" (CSV/JSONL), "row 7" (Excel), "record 3" (JSON array).
_PLACES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^line (\d+)$"), "{0} 行目", "line {0}"),
    (re.compile(r"^row (\d+)$"), "{0} 行目", "row {0}"),
    (re.compile(r"^record (\d+)$"), "{0} 件目", "record {0}"),
)
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^no such date '(.*)'$"), "存在しない日付です：「{0}」"),
    (re.compile(r"^unreadable date '(.*)' \(use .*\)$"),
     "日付として読めません：「{0}」（例：2024-04-01、2024/4/1、2024年4月1日）"),
    (re.compile(r"^no such time (.*)$"), "存在しない時刻です：{0}"),
    (re.compile(r"^unreadable yes/no value '(.*)' \(use .*\)$"),
     "あり／なしとして読めません：「{0}」（例：あり/なし、はい/いいえ、yes/no）"),
    (re.compile(r"^the complaint text is empty$"), "クレーム内容が空です"),
    (re.compile(r"^duplicate id '(.*)' \(first at (.*)\)$"),
     "管理番号「{0}」が重複しています（最初は {1}）"),
    (re.compile(r"^(\d+) cells but the header has (\d+) columns$"),
     "セルが {0} 個ありますが、見出しは {1} 列です"),
    (re.compile(r"^not valid JSON \((.*)\)$"), "JSON として読めません（{0}）"),
    (re.compile(r"^expected a JSON object$"), "JSON のオブジェクト（{{…}}）ではありません"),
    (re.compile(r"^([\d,]+) characters, over the limit of ([\d,]+) per field.*$"),
     "{0} 文字あり、1 項目の上限 {1} 文字を超えています"),
    (re.compile(r"^a quoted cell opened on line (\d+) is never closed.*$"),
     "{0} 行目で始まる引用符（\"）が閉じられていません。閉じる \" を補ってください"),
)

ACTIONS: dict[str, tuple[str, str]] = {
    "ingest_ledger": ("台帳の取り込み", "ledger import"),
    "ingest_cases": ("事例の記録・編集", "case recorded or edited"),
    "delete_cases": ("事例の削除", "cases deleted"),
    "retire_cases": ("事例の廃止", "cases retired"),
    "restore_cases": ("事例の復元", "cases restored"),
    "ingest_document": ("マニュアルの登録", "manual added"),
    "delete_document": ("マニュアルの削除", "manual deleted"),
    "reindex": ("再インデックス", "re-index"),
    "calibrate": ("検索の調整", "search tuning"),
}
COUNTS: dict[str, tuple[str, str]] = {
    "new": ("新規", "new"), "updated": ("更新", "updated"), "unchanged": ("変更なし", "unchanged"),
    "rejected": ("除外", "rejected"), "requested": ("指定", "requested"),
    "retired": ("廃止", "retired"), "restored": ("復元", "restored"), "deleted": ("削除", "deleted"),
    "passages": ("段落", "passages"), "pages": ("ページ", "pages"), "chunks": ("チャンク", "chunks"),
    "queries": ("調整用の質問", "queries"),
    "masked_phone": ("マスク：電話番号", "masked phone numbers"),
    "masked_email": ("マスク：メール", "masked e-mails"),
    "masked_postal": ("マスク：郵便番号", "masked postal codes"),
    "masked_card": ("マスク：カード番号", "masked card numbers"),
    "masked_name": ("マスク：氏名", "masked names"),
}
JST = dt.timezone(dt.timedelta(hours=9), "JST")
_UPLOADS = Path(tempfile.gettempdir()) / "kb-uploads"


def _pick(pair: tuple[str, str]) -> str:
    return pair[1] if lang() == "en" else pair[0]


def place(location: str) -> str:
    """「4 行目」 for "line 4"; anything else as it is."""
    for pattern, ja, en in _PLACES:
        if found := pattern.match(location):
            return (en if lang() == "en" else ja).format(*found.groups())
    return location


def reason(message: str) -> str:
    """A row error's reason in Japanese (the English original in the English UI)."""
    if lang() == "en":
        return message
    for pattern, ja in _REASONS:
        if found := pattern.match(message):
            return ja.format(*found.groups())
    return message


def action(name: str) -> str:
    return _pick(ACTIONS[name]) if name in ACTIONS else name


def counts(values: dict[str, int]) -> str:
    """「新規 3・マスク：氏名 2」: the non-zero counts of an audit event, named."""
    sep = ", " if lang() == "en" else "・"
    return sep.join(f"{_pick(COUNTS[k]) if k in COUNTS else k} {v}" for k, v in values.items() if v)


def target(text: str) -> str:
    """The file's own name for an upload (kept under a temporary folder while it is read)."""
    path = Path(text)
    if path.is_absolute() and _UPLOADS in path.parents:
        return path.name
    return text


def when(iso_utc: str) -> str:
    """An audit time (UTC, ISO 8601) in Japan time, the zone named: 「2026-12-01 23:45 JST」."""
    try:
        moment = dt.datetime.fromisoformat(iso_utc)
    except ValueError:
        return iso_utc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")
