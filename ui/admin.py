"""Admin page (managers only): the audit log of every write, access settings, re-index."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kb import AuditEvent, KnowledgeBase, Settings
from ui import auth, messages
from ui.auth import acting_as, require_manager
from ui.i18n import lang, tr
from ui.progress import progress_bar

TEXT: dict[str, tuple[str, str]] = {
    "nav": ("管理・監査ログ", "Admin & audit log"),
    "title": ("管理・監査ログ", "Admin and audit log"),
    "intro": ("ナレッジベースへの書き込み（取り込み・削除・再インデックスなど）は、"
              "誰が・いつ・何を・何件行ったかがすべて記録されます。",
              "Every write to the knowledge base (ingest, delete, re-index, ...) is recorded: "
              "who, when, what, and how many."),
    "log": ("監査ログ", "Audit log"),
    "limit": ("表示件数", "Events shown"),
    "action": ("操作", "Action"),
    "all": ("すべて", "All"),
    "empty": ("記録はまだありません。", "Nothing recorded yet."),
    "col_at": ("日時（日本時間）", "When (Japan time, JST)"),
    "col_actor": ("実行者", "Who"),
    "col_action": ("操作", "Action"),
    "col_target": ("対象", "Target"),
    "col_counts": ("件数", "Counts"),
    "col_detail": ("詳細", "Detail"),
    "settings": ("設定", "Settings"),
    "access": ("管理者の認証：{how}", "Manager sign-in: {how}"),
    "how_password": ("パスワード", "password"),
    "how_oidc": ("組織アカウント（OIDC）", "organisation account (OIDC)"),
    "how_open": ("未設定（このPCのみ）", "not set (this computer only)"),
    "limits": ("上限：ファイル {mb:.0f} MB、{rows:,} 行／ファイル、{chars:,} 文字／項目",
               "Limits: {mb:.0f} MB per file, {rows:,} rows per file, {chars:,} characters per field"),
    "masking": ("個人情報（電話番号・メール・郵便番号・カード番号・氏名列）は"
                "取り込み時にマスキングされます。",
                "Personal data (phone numbers, e-mail, postal codes, card numbers, name columns) is "
                "masked on ingest."),
    "reindex": ("再インデックス", "Re-index"),
    "reindex_help": ("すべての事例とマニュアルを埋め込み直し、キーワード索引を作り直します"
                     "（数分かかることがあります）。",
                     "Re-embed every case and manual passage and rebuild the keyword index "
                     "(may take minutes)."),
    "reindex_confirm": ("再インデックスを実行することを確認しました", "I confirm re-indexing"),
    "reindex_go": ("再インデックスを実行", "Re-index now"),
    "reindexed": ("再インデックスが完了しました（{chunks:,} 件）。", "Re-indexed ({chunks:,} chunks)."),
}
ACTIONS = tuple(messages.ACTIONS)  # every action the core records, retire/restore included


def _table(events: list[AuditEvent]) -> pd.DataFrame:
    return pd.DataFrame([{
        tr(TEXT, "col_at"): messages.when(e.at),
        tr(TEXT, "col_actor"): e.actor, tr(TEXT, "col_action"): messages.action(e.action),
        tr(TEXT, "col_target"): messages.target(e.target),
        tr(TEXT, "col_counts"): messages.counts(e.counts),
        tr(TEXT, "col_detail"): e.detail} for e in events])


def _settings() -> None:
    st.subheader(tr(TEXT, "settings"))
    how = ("how_open" if auth.open_mode() else
           "how_oidc" if auth.oidc_configured() and auth.password_hash() is None else "how_password")
    limits = Settings.from_env().limits()
    st.caption(tr(TEXT, "access", how=tr(TEXT, how)))
    st.caption(tr(TEXT, "limits", mb=limits.max_upload_bytes / 1024 / 1024, rows=limits.max_rows,
                  chars=limits.max_field_chars))
    st.caption(tr(TEXT, "masking"))


def _reindex(kb: KnowledgeBase, manager: str) -> None:
    st.subheader(tr(TEXT, "reindex"))
    st.caption(tr(TEXT, "reindex_help"))
    confirm = st.checkbox(tr(TEXT, "reindex_confirm"), key="admin_reindex_confirm")
    if st.button(tr(TEXT, "reindex_go"), key="admin_reindex", disabled=not confirm):
        progress, bar = progress_bar(lambda stage, done, total: f"{stage} {done}/{total}")
        with acting_as(manager):
            kb.reindex(progress=progress)
        bar.empty()
        st.success(tr(TEXT, "reindexed", chunks=kb.stats().chunks))


def render(kb: KnowledgeBase) -> None:
    st.title(tr(TEXT, "title"))
    st.caption(tr(TEXT, "intro"))
    manager = require_manager("admin_auth")
    if manager is None:
        return
    auth.sign_out_button("admin_auth")
    st.subheader(tr(TEXT, "log"))
    left, right = st.columns(2)
    limit = left.number_input(tr(TEXT, "limit"), 1, 10000, 200, key="audit_limit")
    labels = {"": tr(TEXT, "all"), **{a: messages.action(a) for a in ACTIONS}}
    # keyed by language: a kept key kept the other language's label of the chosen option
    action = right.selectbox(tr(TEXT, "action"), list(labels), format_func=labels.__getitem__,
                             key=f"audit_action_{lang()}")
    events = kb.audit_events(int(limit), action or None)
    if events:
        st.dataframe(_table(events), hide_index=True, width="stretch")
    else:
        st.info(tr(TEXT, "empty"))
    _settings()
    _reindex(kb, manager)
