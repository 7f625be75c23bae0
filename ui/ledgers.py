"""Ledgers and cases (knowledge managers): import a ledger, export the base, restore retired cases.

Import follows `kb ingest`: the encoding and column mapping are shown and can be
corrected, a preview and a dry-run count come first, and the write is one
transaction: nothing is written while rows are invalid unless the manager chooses
to skip them (the rejects are then offered as a CSV).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from ingest.errors import IngestError
from ingest.fields import map_headers
from ingest.ledger import LedgerRead, read_ledger
from ingest.masking import MaskPolicy, describe_counts, mask_case
from ingest.records import CASE_FIELDS
from ingest.tables import LEDGER_SUFFIXES, TEXT_ENCODINGS, read_table
from kb import KnowledgeBase, Settings, export, table
from ui import messages, nav
from ui.auth import acting_as, require_manager
from ui.i18n import field_label, lang, select_all, tr
from ui.progress import progress_bar
from ui.state import warm_clusters
from ui.text import escape_markdown

TEXT: dict[str, tuple[str, str]] = {
    "nav": ("台帳・事例の管理", "Ledgers & cases"),
    "title": ("台帳の取り込みと事例の管理", "Import ledgers, manage cases"),
    "import": ("台帳を取り込む", "Import a ledger"),
    "intro": ("過去のクレーム台帳（CSV・TSV・Excel・JSON）を取り込みます。見出しは日本語・英語の"
              "どちらでも自動で対応づけます。同じ管理番号の事例は更新されます。",
              "Bring in a past complaint ledger (CSV, TSV, Excel, JSON). Japanese or English "
              "headers are matched automatically; a case with the same ID is updated."),
    "upload": ("台帳ファイル", "Ledger file"),
    "unreadable": ("{name} を読み込めません：{error}", "Cannot read {name}: {error}"),
    "encoding": ("文字コード（自動判定：{detected}）", "Encoding (detected: {detected})"),
    "mapping": ("列の対応づけ（誤っていれば直してください）",
                "Column mapping (correct it if it is wrong)"),
    "unused": ("（使わない）", "(not used)"),
    "dup_column": ("列「{column}」が複数の項目に割り当てられています：{fields}",
                   "Column '{column}' is mapped to several fields: {fields}"),
    "extra": ("対応づけのない列（付帯情報として保存）：{columns}",
              "Unmapped columns (kept as extra information): {columns}"),
    "preview": ("プレビュー（先頭 {n} 件）", "Preview (first {n} rows)"),
    "plan": ("取り込むと：新規 {new} 件・更新 {updated} 件・変更なし {unchanged} 件・不備 {rejected} 行",
             "Importing would add {new} new, update {updated}, leave {unchanged} unchanged, "
             "reject {rejected} row(s)"),
    "errors": ("不備のある行 {n} 行", "{n} invalid row(s)"),
    "col_where": ("位置", "Where"),
    "col_field": ("列", "Column"),
    "col_reason": ("理由", "Reason"),
    "blocked": ("不備のある行があるため取り込めません。ファイルを直すか、不備のある行を除いて"
                "取り込んでください（何も書き込まれていません）。",
                "Invalid rows: nothing can be written. Fix the file, or import without them "
                "(nothing has been written)."),
    "skip": ("不備のある行を除いて取り込む", "Import without the invalid rows"),
    "go": ("取り込む", "Import"),
    "working": ("取り込み中… {stage} {done}/{total}", "Importing… {stage} {done}/{total}"),
    "done": ("{name}：新規 {new} 件・更新 {updated} 件・変更なし {unchanged} 件・除外 {rejected} 行",
             "{name}: {new} new, {updated} updated, {unchanged} unchanged, {rejected} rejected"),
    "rejects": ("除外した行をダウンロード（CSV）", "Download the rejected rows (CSV)"),
    "export": ("書き出す", "Export"),
    "export_intro": ("有効な事例 {n} 件を、日本語の見出しで書き出します（Excel でそのまま開けます。"
                     "取り込み直しても変更は生じません）。",
                     "Export the {n} active cases with Japanese headers (opens in Excel as is; "
                     "re-importing changes nothing)."),
    "csv": ("CSV（UTF-8 BOM 付き）", "CSV (UTF-8 with BOM)"),
    "xlsx": ("Excel（XLSX）", "Excel (XLSX)"),
    "retired": ("廃止した事例", "Retired cases"),
    "retired_none": ("廃止した事例はありません。", "No retired cases."),
    "restore": ("選んだ事例を復元", "Restore the selected cases"),
    "restored": ("{n} 件を復元しました。", "Restored {n} case(s)."),
    "col_retired": ("廃止日時", "Retired at"),
    "open_case": ("事例を開く（管理番号）", "Open a case (by ID)"),
}


def _saved_upload(upload: object) -> Path:
    """The upload as a file under its own name (error messages name it), once per content."""
    data = upload.getvalue()
    folder = Path(tempfile.gettempdir()) / "kb-uploads" / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(upload.name).name
    if not path.exists():
        path.write_bytes(data)
    return path


def _mapping_editor(headers: list[str], key: str) -> dict[str, str] | None:
    """One select per case field, preset from the header aliases; None if a column is doubled."""
    auto = map_headers(headers)
    options = ["", *headers]
    unused = tr(TEXT, "unused")  # looked up now: format_func may run outside this script run
    chosen: dict[str, str] = {}
    with st.expander(tr(TEXT, "mapping"), expanded=True):
        columns = st.columns(3)
        for n, name in enumerate(CASE_FIELDS):
            chosen[name] = columns[n % 3].selectbox(
                field_label(name), options, index=options.index(auto.get(name, "")),
                format_func=lambda c: c or unused, key=f"{key}_map_{name}")
    used: dict[str, list[str]] = {}
    for name, column in chosen.items():
        if column:
            used.setdefault(column, []).append(field_label(name))
    doubled = {c: f for c, f in used.items() if len(f) > 1}
    for column, fields in doubled.items():
        st.error(escape_markdown(tr(TEXT, "dup_column", column=column, fields="、".join(fields))))
    return None if doubled else chosen


def _errors_table(read: LedgerRead) -> pd.DataFrame:
    return pd.DataFrame([{tr(TEXT, "col_where"): messages.place(e.location),
                          tr(TEXT, "col_field"): e.field,
                          tr(TEXT, "col_reason"): messages.reason(e.message)} for e in read.errors])


def _read_upload(path: Path, upload: object, key: str
                 ) -> tuple[LedgerRead, dict[str, str], str | None] | None:
    """Detect the encoding (offered for correction), map the columns, read the ledger;
    None (with the reason shown) when the file cannot be read."""
    text_file = path.suffix.lower() not in (".xlsx", ".xlsm")
    limits = Settings.from_env().limits()  # a workbook is parsed in a child under the memory cap
    within = {"max_rows": limits.max_rows, "max_memory": limits.max_parse_bytes}
    try:
        detected = read_table(path, **within)
    except IngestError as exc:
        detected = None
        if not text_file:
            st.error(escape_markdown(tr(TEXT, "unreadable", name=upload.name, error=exc.message)))
            return None
    encoding = None
    if text_file:
        guess = detected.encoding if detected else "utf-8"
        options = [guess, *(e for e in TEXT_ENCODINGS if e != guess)]
        encoding = st.selectbox(tr(TEXT, "encoding", detected=guess if detected else "—"),
                                options, key=f"{key}_encoding")
    try:
        overrides = _mapping_editor(read_table(path, encoding, **within).headers, key)
        if overrides is None:
            return None
        return read_ledger(path, overrides, encoding, limits), overrides, encoding
    except IngestError as exc:
        st.error(escape_markdown(tr(TEXT, "unreadable", name=upload.name, error=exc.message)))
        return None


def _import(kb: KnowledgeBase, upload: object, manager: str) -> None:
    path = _saved_upload(upload)
    key = f"lg_{path.parent.name}"
    if st.session_state.get("lg_imported") == key:
        return  # imported: its result is shown below, and the dry run before it is stale
    loaded = _read_upload(path, upload, key)
    if loaded is None:
        return
    read, overrides, encoding = loaded
    if read.metadata_columns:
        st.caption(escape_markdown(tr(TEXT, "extra", columns="、".join(read.metadata_columns))))
    # What will be stored is the masked form (ingest/masking.py): preview and compare that.
    policy = MaskPolicy().for_mapping(read.mapping)
    masked = [mask_case(c, policy)[0] for c in read.cases]
    shown = masked[:10]
    st.markdown(f"**{tr(TEXT, 'preview', n=len(shown))}**")
    headers, rows = table(shown)
    st.dataframe(pd.DataFrame(rows, columns=headers), hide_index=True, width="stretch")
    rejected = len({e.location for e in read.errors})
    st.info(tr(TEXT, "plan", rejected=rejected, **kb.compare(masked)))
    skip = False
    if read.errors:
        st.markdown(f"**{tr(TEXT, 'errors', n=rejected)}**")
        st.dataframe(_errors_table(read), hide_index=True, width="stretch")
        skip = st.checkbox(tr(TEXT, "skip"), key=f"{key}_skip")
        if not skip:
            st.warning(tr(TEXT, "blocked"))
    go = st.button(tr(TEXT, "go"), type="primary", key=f"{key}_go",
                   disabled=bool(read.errors) and not skip)
    if go and _run_import(kb, path, upload.name, overrides, encoding, skip, manager):
        st.session_state["lg_imported"] = key
        st.rerun()


def _run_import(kb: KnowledgeBase, path: Path, name: str, overrides: dict[str, str],
                encoding: str | None, skip: bool, manager: str) -> bool:
    """The import itself, with a progress bar; its report is shown on the next run.
    False (with the reason shown) when nothing was imported."""
    progress, bar = progress_bar(lambda stage, done, total: tr(
        TEXT, "working", stage=stage, done=done, total=total))

    try:
        # A handle of its own: other sessions' searches on `kb` go on during the import.
        with acting_as(manager), kb.separate_writer() as writer:
            report = writer.ingest_ledger(path, overrides, skip_invalid=skip, progress=progress,
                                          encoding=encoding)
    except IngestError as exc:
        st.error(escape_markdown(exc.message))
        return False
    bar.empty()
    warm_clusters(kb)  # the clusters page then opens on a ready result
    rejects = Path(report.rejects_file).read_bytes() if report.rejects_file else None
    st.session_state["lg_report"] = (name, report.new, report.updated, report.unchanged,
                                     report.rejected, rejects, dict(report.masked))
    return True


def _last_report() -> None:
    found = st.session_state.get("lg_report")
    if not found:
        return
    name, new, updated, unchanged, rejected, rejects, masked = found
    st.success(escape_markdown(tr(TEXT, "done", name=name, new=new, updated=updated,
                                  unchanged=unchanged, rejected=rejected)))
    if masked:
        st.caption(escape_markdown(describe_counts(masked, lang())))
    if rejects:
        st.download_button(tr(TEXT, "rejects"), rejects, mime="text/csv", key="lg_rejects",
                           file_name=f"{Path(name).stem}.rejected.csv", on_click="ignore")


def _export(kb: KnowledgeBase) -> None:
    st.subheader(tr(TEXT, "export"))
    st.caption(tr(TEXT, "export_intro", n=kb.stats().cases))
    left, right = st.columns(2)
    for column, file_format, mime in (
            (left, "csv", "text/csv"),
            (right, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):
        column.download_button(tr(TEXT, file_format), lambda f=file_format: export(kb.all_cases(), f),
                               file_name=f"complaint-cases.{file_format}", mime=mime,
                               key=f"lg_export_{file_format}", on_click="ignore")


def _retired(kb: KnowledgeBase, manager: str) -> None:
    st.subheader(tr(TEXT, "retired"))
    items = kb.retired_cases()
    if not items:
        st.caption(tr(TEXT, "retired_none"))
        return
    frame = pd.DataFrame([{field_label("id"): c.id, field_label("title"): c.title,
                           field_label("content"): c.content[:60],
                           tr(TEXT, "col_retired"): when[:16].replace("T", " ")}
                          for c, when in items])
    st.dataframe(frame, hide_index=True, width="stretch")
    picked = st.multiselect(tr(TEXT, "restore"), [c.id for c, _ in items], key="lg_restore_ids",
                            select_all=select_all())
    if picked and st.button(tr(TEXT, "restore"), key="lg_restore"):
        with acting_as(manager):
            restored = kb.restore_cases(picked)
        st.success(tr(TEXT, "restored", n=len(restored)))


def render(kb: KnowledgeBase) -> None:
    st.title(tr(TEXT, "title"))
    manager = require_manager("ledgers_auth")
    if manager is None:  # bulk writes and bulk export of personal data: managers only
        return
    st.subheader(tr(TEXT, "import"))
    st.caption(tr(TEXT, "intro"))
    upload = st.file_uploader(tr(TEXT, "upload"), key="lg_upload",
                              type=[s.lstrip(".") for s in LEDGER_SUFFIXES])
    if upload is not None:
        _import(kb, upload, manager)
    _last_report()
    _export(kb)
    _retired(kb, manager)
    case_id = st.text_input(tr(TEXT, "open_case"), key="lg_open_case").strip()
    if case_id:
        nav.link("case", case_id, {"id": case_id}, icon=":material/open_in_new:")
