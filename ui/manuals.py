"""Manuals page for knowledge managers: upload, replace, delete, open a page, review stale ones."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ingest.documents import DOCUMENT_SUFFIXES
from ingest.errors import IngestError
from kb import DocumentInfo, KnowledgeBase
from ui.auth import acting_as, require_manager
from ui.i18n import tr
from ui.progress import progress_bar
from ui.text import escape_markdown

TEXT: dict[str, tuple[str, str]] = {
    "nav": ("マニュアル管理", "Manuals"),
    "title": ("マニュアル管理", "Manage manuals"),
    "intro": ("対応マニュアルや規程（PDF・Word・Markdown・テキスト・HTML）を登録すると、"
              "検索結果に該当ページが表示されます。同じファイル名で登録すると差し替えになります。",
              "Upload manuals and policies (PDF, Word, Markdown, text, HTML); searches then show "
              "the pages that apply. Uploading a file with the same name replaces it."),
    "upload": ("ファイルを選択（複数可）", "Choose files (several at once)"),
    "ingest": ("登録する", "Add to the knowledge base"),
    "working": ("{name} を処理中… ({i}/{n})", "Processing {name}… ({i}/{n})"),
    "done_new": ("{name}：新規登録（{pages}{chunks} 件の文節）", "{name}: added ({pages}{chunks} passages)"),
    "done_replaced": ("{name}：差し替え（{pages}{chunks} 件の文節）",
                      "{name}: replaced ({pages}{chunks} passages)"),
    "done_unchanged": ("{name}：同じ内容のため変更なし", "{name}: identical to the stored file, skipped"),
    "pages": ("{n} ページ、", "{n} pages, "),
    "failed": ("{name}：登録できませんでした — {error}", "{name}: not added — {error}"),
    "list": ("登録済みマニュアル", "Stored manuals"),
    "none": ("マニュアルはまだ登録されていません。", "No manuals yet."),
    "col_name": ("ファイル名", "File"),
    "col_title": ("タイトル", "Title"),
    "col_type": ("種類", "Type"),
    "col_pages": ("ページ数", "Pages"),
    "col_chunks": ("文節数", "Passages"),
    "col_added": ("登録日", "Added"),
    "col_updated": ("更新日", "Updated"),
    "col_retrieved": ("最終参照日", "Last retrieved"),
    "col_warnings": ("注意", "Warnings"),
    "never": ("未参照", "never"),
    "detail": ("マニュアルを開く・差し替え・削除", "Open, replace or delete a manual"),
    "pick": ("マニュアル", "Manual"),
    "page": ("ページ", "Page"),
    "page_text": ("{page} ページの本文", "Text of page {page}"),
    "no_page_text": ("このページには検索対象の本文がありません。", "No searchable text on this page."),
    "download": ("元のファイルをダウンロード", "Download the original file"),
    "replace": ("差し替えるファイル", "Replacement file"),
    "replace_button": ("差し替える", "Replace"),
    "delete_confirm": ("「{name}」を削除することを確認しました", "I confirm deleting '{name}'"),
    "delete": ("削除する", "Delete"),
    "deleted": ("{name} を削除しました。", "Deleted {name}."),
    "stale": ("見直し候補（断捨離）", "Review candidates (stale)"),
    "stale_days": ("この日数、検索で参照されていない", "Not retrieved by any search for days"),
    "stale_months": ("この月数、更新されていない", "Not updated for months"),
    "stale_none": ("見直し候補はありません。", "Nothing to review."),
    "reason_unretrieved": ("参照なし", "not retrieved"),
    "reason_unchanged": ("更新なし", "not updated"),
    "col_reason": ("理由", "Reason"),
}


def _report_line(report: object) -> str:
    pages = tr(TEXT, "pages", n=report.pages) if report.pages else ""
    return tr(TEXT, f"done_{report.status}", name=report.name, pages=pages, chunks=report.passages)


def _ingest_uploads(kb: KnowledgeBase, files: list, manager: str) -> None:
    # One bar for the batch: which file, then the embedding of its passages as it goes (a
    # 93-page PDF sat at 「処理中… (1/1)」 for minutes with nothing moving).
    now = {"name": "", "i": 0}

    def describe(stage: str, done: int, total: int) -> str:
        text = tr(TEXT, "working", name=now["name"], i=now["i"], n=len(files))
        return f"{text} {stage} {done}/{total}" if stage else text

    progress, bar = progress_bar(describe)
    for i, upload in enumerate(files, start=1):
        now.update(name=upload.name, i=i)
        bar.progress((i - 1) / len(files), text=describe("", 0, 0))
        try:
            with acting_as(manager):
                report = kb.ingest_document(data=upload.getvalue(), name=upload.name,
                                            progress=progress)
        except IngestError as exc:
            st.error(escape_markdown(tr(TEXT, "failed", name=upload.name, error=exc.message)))
            continue
        (st.info if report.status == "unchanged" else st.success)(escape_markdown(_report_line(report)))
        for warning in report.warnings:
            st.warning(escape_markdown(f"{upload.name}: {warning}"))
    bar.empty()


def _table(items: list[DocumentInfo]) -> pd.DataFrame:
    return pd.DataFrame([{
        tr(TEXT, "col_name"): i.id, tr(TEXT, "col_title"): i.title,
        tr(TEXT, "col_type"): i.file_type, tr(TEXT, "col_pages"): i.pages,
        tr(TEXT, "col_chunks"): i.chunks, tr(TEXT, "col_added"): i.added_at[:10],
        tr(TEXT, "col_updated"): i.updated_at[:10],
        tr(TEXT, "col_retrieved"): (i.last_retrieved_at or tr(TEXT, "never"))[:10],
        tr(TEXT, "col_warnings"): " / ".join(i.warnings)} for i in items])


def _detail(kb: KnowledgeBase, items: list[DocumentInfo], manager: str | None) -> None:
    st.subheader(tr(TEXT, "detail"))
    names = [i.id for i in items]
    chosen = st.session_state.get("open_document")
    name = st.selectbox(tr(TEXT, "pick"), names, key="doc_pick",
                        index=names.index(chosen) if chosen in names else 0)
    info = next(i for i in items if i.id == name)
    if info.pages:
        wanted = st.session_state.get("open_page") if chosen == name else None
        page = st.number_input(tr(TEXT, "page"), 1, info.pages, int(wanted or 1), key="doc_page")
        text = kb.page_text(name, int(page))
        with st.container(border=True):
            st.caption(tr(TEXT, "page_text", page=int(page)))
            st.text(text or tr(TEXT, "no_page_text"))
    content = kb.document_content(name)
    if content is not None:
        st.download_button(tr(TEXT, "download"), content, file_name=name, key="doc_download")
    if manager is None:  # staff read manuals; only managers change them
        return
    replacement = st.file_uploader(tr(TEXT, "replace"), key="doc_replace",
                                   type=[s.lstrip(".") for s in DOCUMENT_SUFFIXES])
    if replacement is not None and st.button(tr(TEXT, "replace_button"), key="doc_replace_go"):
        try:
            with acting_as(manager):
                report = kb.ingest_document(data=replacement.getvalue(), name=name)
            st.success(escape_markdown(_report_line(report)))
        except IngestError as exc:
            st.error(escape_markdown(tr(TEXT, "failed", name=name, error=exc.message)))
    confirm = st.checkbox(tr(TEXT, "delete_confirm", name=name), key="doc_delete_confirm")
    if st.button(tr(TEXT, "delete"), key="doc_delete", disabled=not confirm, type="primary"):
        with acting_as(manager):
            kb.delete_document(name)
        st.session_state.pop("open_document", None)
        st.session_state["doc_deleted"] = name
        st.rerun()


def _stale(kb: KnowledgeBase) -> None:
    st.subheader(tr(TEXT, "stale"))
    left, right = st.columns(2)
    days = left.number_input(tr(TEXT, "stale_days"), 1, 3650, 90, key="stale_days")
    months = right.number_input(tr(TEXT, "stale_months"), 1, 120, 12, key="stale_months")
    items = kb.stale_documents(int(days), int(months))
    if not items:
        st.caption(tr(TEXT, "stale_none"))
        return
    frame = _table([i for i, _ in items])
    frame[tr(TEXT, "col_reason")] = [
        " / ".join(tr(TEXT, f"reason_{r}") for r in reason.split("+")) for _, reason in items]
    st.dataframe(frame, hide_index=True, width="stretch")


def render(kb: KnowledgeBase) -> None:
    st.title(tr(TEXT, "title"))
    st.caption(tr(TEXT, "intro"))
    if deleted := st.session_state.pop("doc_deleted", None):
        st.success(escape_markdown(tr(TEXT, "deleted", name=deleted)))
    manager = require_manager("manuals_auth")
    if manager is not None:
        files = st.file_uploader(tr(TEXT, "upload"), accept_multiple_files=True, key="doc_upload",
                                 type=[s.lstrip(".") for s in DOCUMENT_SUFFIXES])
        if files and st.button(tr(TEXT, "ingest"), type="primary", key="doc_ingest"):
            _ingest_uploads(kb, files, manager)
    st.subheader(tr(TEXT, "list"))
    items = kb.documents()
    if not items:
        st.info(tr(TEXT, "none"))
        return
    st.dataframe(_table(items), hide_index=True, width="stretch")
    _detail(kb, items, manager)
    _stale(kb)
