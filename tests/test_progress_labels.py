"""Progress bars name their stages in the staff's language, never as identifiers such as
「store 360/360」 (issue 15, item 10)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb import KnowledgeBase, cluster_cases
from ui.progress import STAGES


def test_every_stage_the_base_reports_has_a_name(sample_base: Path, tmp_path: Path) -> None:
    seen: set[str] = set()
    manual = tmp_path / "manual.md"
    manual.write_text("# 返品\n\n未使用品は八日以内なら返品できる。\n", encoding="utf-8")
    with KnowledgeBase.open(sample_base) as kb:
        kb.calibrate(progress=lambda done, total, stage: seen.add(stage))
        kb.ingest_document(manual, progress=lambda done, total, stage: seen.add(stage))
        cases = kb.all_cases()[:3]
        kb.ingest_cases([dataclasses.replace(c, prevention=c.prevention + "（再周知）") for c in cases],
                        progress=lambda done, total, stage: seen.add(stage))
        cluster_cases(kb, progress=lambda done, total, stage: seen.add(stage))
    seen.discard("")
    assert {"embed", "store", "calibrate", "cluster_group", "cluster_map"} <= seen
    assert seen <= set(STAGES), f"stages without a name: {seen - set(STAGES)}"
    for ja, en in STAGES.values():
        assert not any("a" <= ch.lower() <= "z" for ch in ja) and en.isascii()


def _bar() -> None:
    from ui.progress import progress_bar

    update, _ = progress_bar(lambda stage, done, total: f"取り込み中… {stage} {done}/{total}")
    update(200, 360, "embed")
    update(360, 360, "store")


@pytest.mark.parametrize(("language", "text"), [("ja", "取り込み中… 保存 360/360"),
                                                ("en", "取り込み中… saving 360/360")])
def test_the_bar_reads_the_stage_in_the_session_language(language: str, text: str) -> None:
    at = AppTest.from_function(_bar)
    at.session_state["lang"] = language
    at.run()
    assert not at.exception, at.exception
    bar = at.get("progress")[0].proto
    assert bar.text.startswith(text) and "store" not in bar.text


def _manuals() -> None:
    from ui import manuals
    from ui.state import knowledge_base

    manuals.render(knowledge_base())


def test_manual_upload_shows_the_embedding_as_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15, item 19 (in part): the bar moves with the passages embedded, named per file."""
    import ui.manuals
    import ui.progress

    texts: list[str] = []
    real = ui.progress.progress_bar

    def recording(describe):
        def kept(stage: str, done: int, total: int) -> str:
            texts.append(describe(stage, done, total))
            return texts[-1]

        return real(kept)

    monkeypatch.setattr(ui.manuals, "progress_bar", recording)
    at = AppTest.from_function(_manuals, default_timeout=60).run()
    manual = "# 返品\n\n" + "\n\n".join(f"## 第{n}条\n\n返品は八日以内、{n} 回目の確認。" for n in range(40))
    at.file_uploader(key="doc_upload").set_value([("返品規程.md", manual.encode(), "text/markdown")])
    at.run()
    at.button(key="doc_ingest").click().run()
    assert not at.exception, at.exception
    embedding = [t for t in texts if "埋め込み計算" in t]
    assert embedding and all(t.startswith("返品規程.md を処理中… (1/1)") for t in embedding)
    done, total = embedding[-1].split()[-1].split("/")
    assert done == total and int(total) >= 20
