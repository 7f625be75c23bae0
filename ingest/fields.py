"""Map ledger headers (Japanese or English) to case fields."""

from __future__ import annotations

import re
import unicodedata

from ingest.records import CASE_FIELDS

# Header spellings seen in Japanese complaint ledgers and English exports (CFPB, helpdesks).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("管理番号", "案件番号", "受付番号", "番号", "no", "id", "caseid", "ticketid",
           "complaintid", "ticketnumber", "casenumber", "_id"),
    "date": ("発生日", "受付日", "発生日時", "受付日時", "日付", "年月日", "date",
             "datereceived", "receiveddate", "createdat", "created", "opened"),
    "title": ("件名", "タイトル", "表題", "概要", "title", "subject", "summary"),
    "content": ("クレーム内容", "苦情内容", "問い合わせ内容", "問合せ内容", "お問い合わせ内容",
                "申出内容", "内容", "詳細", "content", "complaint", "text", "description",
                "body", "consumercomplaintnarrative", "narrative", "complainttext"),
    "customer_request": ("顧客の要望", "お客様の要望", "要望", "顧客要望", "customerrequest",
                         "request", "customerdemand"),
    "cause": ("発生原因", "原因", "cause", "rootcause"),
    "response": ("対応内容", "対応", "処置", "処置内容", "回答内容", "response", "resolution",
                 "actiontaken", "companyresponsetoconsumer"),
    "prevention": ("再発防止策", "再発防止", "防止策", "prevention", "preventiveaction",
                   "preventivemeasure", "correctiveaction"),
    "category": ("分類", "カテゴリ", "カテゴリー", "種別", "区分", "category", "type", "issue"),
    "product": ("製品", "商品", "サービス", "製品名", "商品名", "product", "service"),
    "channel": ("受付経路", "チャネル", "チャンネル", "受付方法", "channel", "submittedvia",
                "source"),
    "severity": ("重要度", "深刻度", "緊急度", "severity", "priority"),
    "escalated": ("二次クレーム", "エスカレーション", "escalated", "escalation",
                  "consumerdisputed", "disputed"),
    "status": ("対応状況", "ステータス", "状況", "status"),
}

_BRACKETS = re.compile(r"[（(\[【].*?[）)\]】]")


def normalize_header(header: str) -> str:
    """Fold width, case, spaces and punctuation so '管理番号 ' and 'Complaint ID' compare."""
    text = unicodedata.normalize("NFKC", str(header)).strip().lower()
    text = _BRACKETS.sub("", text) or text
    return re.sub(r"[\s_\-?？:：・/.]+", "", text) or text  # "No." is the usual id header


_ALIAS_TO_FIELD: dict[str, str] = {
    normalize_header(alias): name for name, aliases in FIELD_ALIASES.items() for alias in aliases
}


def map_headers(headers: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Return {case field: column header}; the first matching column wins.

    `overrides` ({field: column}) come from `--map field=column` or the app's mapping editor
    and beat the aliases; a field overridden with '' stays unmapped. Callers check beforehand
    that the columns exist.
    """
    overrides = overrides or {}
    mapping: dict[str, str] = {name: column for name, column in overrides.items() if column}
    taken = set(mapping.values())
    for header in headers:
        if header in taken:
            continue
        name = _ALIAS_TO_FIELD.get(normalize_header(header))
        if name and name not in overrides:
            mapping[name] = header
            taken.add(header)
    return mapping


def unknown_fields(names: list[str]) -> list[str]:
    """Field names in a `--map` that are not case fields."""
    return [n for n in names if n not in CASE_FIELDS]
