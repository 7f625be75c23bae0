"""The backend battery: every vector and lexical engine honours its protocol (kb/index/base.py).

Each battery runs over every registered implementation and checks it against an
independent reference: brute-force numpy inner products for vectors; SQLite FTS5's own
bm25() (queried directly) and the chunks' tokens for the lexical side. A new engine (a
server-side vector store, another BM25) passes by adding its factory to VECTOR_BACKENDS
or LEXICAL_BACKENDS below. No embedding model is loaded: vectors are synthetic.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import math
import os
import random
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest

from ingest.records import Case
from kb.index import analyser
from kb.index import ivf as approx
from kb.index.base import LexicalBackend, VectorBackend, atomic_write
from kb.index.bm25_memory import LexicalIndex, MemoryBm25, match_terms
from kb.index.faiss import VectorIndex, file_version
from kb.index.fts5 import CASE_WEIGHTS, Fts5Cases
from kb.storage.cases import Store
from kb.storage.filters import Filters

# ---------------------------------------------------------------------------------------
# Engines under test: a new engine plugs in by adding its factory here.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VectorEngine:
    """A vector backend factory: (dim, training sample) -> an empty backend."""

    name: str
    make: Callable[..., VectorBackend]
    exact: bool  # exact search (same ids and scores as brute force) or approximate (recall)
    server: str = ""  # a session fixture whose value (a server URI) `make` takes as `uri`


@dataclass(frozen=True)
class LexicalEngine:
    """A lexical backend factory over a populated record store."""

    name: str
    make: Callable[..., LexicalBackend]
    # The engine's scores for a match, computed independently: FTS5's own bm25() by default.
    reference: Callable[[Store, str], list[tuple[int, float]]] = (
        lambda store, match: _reference(store, match))
    server: str = ""  # a session fixture whose value (a server URI) `make` takes as `uri`


def _bound(engine: VectorEngine | LexicalEngine, request: pytest.FixtureRequest
           ) -> VectorEngine | LexicalEngine:
    """The engine with its server's URI bound into `make` (started once per session)."""
    if not engine.server:
        return engine
    uri = request.getfixturevalue(engine.server)
    return dataclasses.replace(engine, make=functools.partial(engine.make, uri=uri))


def _faiss_exact(dim: int, sample: np.ndarray) -> VectorBackend:
    """IndexFlatIP behind IDMap2 (the default below the approximate threshold)."""
    return VectorIndex(dim)


def _faiss_ivf(dim: int, sample: np.ndarray) -> VectorBackend:
    """IVF trained as DerivedIndex.rebuild does, probing as DerivedIndex.sync sets it."""
    index = VectorIndex(dim, approx.train_ivf(dim, len(sample), sample))
    index.index.nprobe = approx.probes(int(index.index.nlist))
    assert index.index.nprobe < index.index.nlist  # really approximate at this size
    return index


def _memory_bm25(store: Store) -> LexicalBackend:
    """The in-memory BM25 used on large bases, built from the FTS5 rows."""
    return MemoryBm25(LexicalIndex.build(store.iter_fts_rows(), CASE_WEIGHTS), store)


def _milvus_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"  # a collection of its own per backend made


def _milvus_vectors(dim: int, sample: np.ndarray, uri: str) -> VectorBackend:
    """Milvus FLAT inner product on the session's Milvus Lite server (tests/servers.py)."""
    from kb.index.milvus import MilvusVectors, connect

    return MilvusVectors(connect(uri), _milvus_name(), dim)


def _milvus_lexical(store: Store, uri: str) -> LexicalBackend:
    """Milvus BM25 over the store's chunks, loaded the way the PostgreSQL base derives it."""
    from kb.index.milvus import ChunkRow, MilvusLexical, connect

    cases = store.get_cases(r[0] for r in store.db.execute("SELECT id FROM cases"))
    backend = MilvusLexical(connect(uri), _milvus_name(), CASE_WEIGHTS)
    rows = []
    for cid, case_id, part, has_vector, primary, secondary in store.db.execute(
            "SELECT c.id, c.case_id, c.part, c.vector IS NOT NULL, f.primary_text, "
            "f.secondary_text FROM chunks c JOIN chunks_fts f ON f.rowid = c.id"):
        case = cases[case_id]
        rows.append(ChunkRow(cid, case_id, part, np.zeros(1) if has_vector else None,
                             f"{primary} {secondary}".strip(), (case.date or "")[:10],
                             case.category, case.product, case.channel,
                             -1 if case.escalated is None else int(case.escalated)))
    backend.put(rows)
    return backend


def _lucene_reference(store: Store, match: str) -> list[tuple[int, float]]:
    """Milvus's BM25, in float64 from the stored tokens: IDF log(1 + (N - n + .5)/(n + .5)),
    k1 1.2, b 0.75, whitespace terms, the resolution part weighted as in FTS5."""
    rows = store.db.execute("SELECT c.id, c.part, f.primary_text || ' ' || f.secondary_text "
                            "FROM chunks c JOIN chunks_fts f ON f.rowid = c.id").fetchall()
    docs = {int(cid): (part, text.split()) for cid, part, text in rows}
    n_docs = len(docs)
    avgdl = sum(len(t) for _, t in docs.values()) / max(n_docs, 1)
    weight = dict(zip(("complaint", "resolution"), CASE_WEIGHTS, strict=True))
    out = []
    for cid, (part, tokens) in docs.items():
        score = 0.0
        for term in dict.fromkeys(match_terms(match)):
            f = tokens.count(term)
            if f:
                n = sum(term in t for _, t in docs.values())
                idf = math.log(1 + (n_docs - n + 0.5) / (n + 0.5))
                score += idf * f * 2.2 / (f + 1.2 * (1 - 0.75 + 0.75 * len(tokens) / avgdl))
        if score > 0:
            out.append((cid, weight[part] * score))
    return sorted(out, key=lambda x: (-x[1], x[0]))


# a new engine plugs in by adding its factory here
VECTOR_BACKENDS: list[VectorEngine] = [
    VectorEngine("faiss-flat", _faiss_exact, exact=True),
    VectorEngine("faiss-ivf", _faiss_ivf, exact=False),
    VectorEngine("milvus-flat", _milvus_vectors, exact=True, server="milvus_server"),
]

# a new engine plugs in by adding its factory here
LEXICAL_BACKENDS: list[LexicalEngine] = [
    LexicalEngine("fts5", Fts5Cases),
    LexicalEngine("memory-bm25", _memory_bm25),
    LexicalEngine("milvus-bm25", _milvus_lexical, _lucene_reference, server="milvus_server"),
]

# ---------------------------------------------------------------------------------------
# Vector battery
# ---------------------------------------------------------------------------------------

DIM, N, N_QUERIES, K = 64, 3000, 60, 10
MIN_RECALL = 0.95
SCORE_ATOL = 1e-6


@dataclass(frozen=True)
class VectorData:
    """Stored vectors with their (non-contiguous) ids, and query vectors."""

    ids: np.ndarray
    vectors: np.ndarray
    queries: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def vdata() -> VectorData:
    """Clustered unit vectors (like embeddings, unlike isotropic noise) and nearby queries."""
    rng = np.random.default_rng(20240601)
    centres = _unit(rng.normal(size=(40, DIM)))
    noise = 1.0 / np.sqrt(DIM)
    vectors = _unit(centres[rng.integers(0, 40, N)] + noise * rng.normal(size=(N, DIM)))
    queries = _unit(vectors[rng.integers(0, N, N_QUERIES)]
                    + noise * rng.normal(size=(N_QUERIES, DIM)))
    gaps = np.concatenate([[0], rng.integers(1, 6, N - 1)])
    ids = (10 + np.cumsum(gaps)).astype(np.int64)  # 10, 13, 17, ...: ids are not positions
    assert len(np.unique(ids)) == N and ids[-1] - ids[0] + 1 > N
    return VectorData(ids, vectors, queries)


def _brute(data: VectorData, query: np.ndarray, k: int,
           allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reference top-k (scores, ids) in float64 numpy, optionally over `allowed` only."""
    keep = np.ones(len(data.ids), bool) if allowed is None else np.isin(data.ids, allowed)
    ids, vectors = data.ids[keep], data.vectors[keep].astype(np.float64)
    scores = vectors @ query.astype(np.float64)
    order = np.argsort(-scores, kind="stable")[:k]
    return scores[order], ids[order]


def _true_scores(data: VectorData, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
    row = {int(i): p for p, i in enumerate(data.ids)}
    return data.vectors[[row[int(i)] for i in ids]].astype(np.float64) @ query.astype(np.float64)


def _recall(got: np.ndarray, want: np.ndarray) -> float:
    return len(set(got.tolist()) & set(want.tolist())) / max(len(want), 1)


def _check_result(data: VectorData, query: np.ndarray, scores: np.ndarray, ids: np.ndarray,
                  k: int) -> None:
    """Well-formed: at most k unique stored ids, scores descending and truly theirs."""
    assert len(scores) == len(ids) <= k
    assert len(set(ids.tolist())) == len(ids)
    assert set(ids.tolist()) <= set(data.ids.tolist())
    assert np.all(np.diff(scores) <= SCORE_ATOL), "scores not sorted descending"
    np.testing.assert_allclose(scores, _true_scores(data, query, ids), atol=SCORE_ATOL)


@pytest.fixture(params=VECTOR_BACKENDS, ids=lambda e: e.name)
def vengine(request: pytest.FixtureRequest) -> VectorEngine:
    return _bound(request.param, request)


@pytest.fixture
def filled(vengine: VectorEngine, vdata: VectorData) -> VectorBackend:
    """A backend holding every vector (fresh per test: some tests remove)."""
    backend = vengine.make(DIM, vdata.vectors)
    backend.add(vdata.ids, vdata.vectors)
    return backend


def test_vector_search_matches_brute_force(vengine: VectorEngine, filled: VectorBackend,
                                           vdata: VectorData) -> None:
    """Exact: same ids and scores as numpy. Approximate: recall@10 >= 0.95 over 60 queries."""
    assert filled.dim == DIM
    recalls = []
    for query in vdata.queries:
        scores, ids = filled.search(query, K)
        _check_result(vdata, query, scores, ids, K)
        want_scores, want_ids = _brute(vdata, query, K)
        if vengine.exact:
            assert ids.tolist() == want_ids.tolist()
            np.testing.assert_allclose(scores, want_scores, atol=SCORE_ATOL)
        recalls.append(_recall(ids, want_ids))
    assert np.mean(recalls) >= (1.0 if vengine.exact else MIN_RECALL), np.mean(recalls)


def test_vector_allowed_restricts_results(vengine: VectorEngine, filled: VectorBackend,
                                          vdata: VectorData) -> None:
    """Only allowed ids come back; a narrow filter still fills k; empty allowed gives nothing."""
    rng = np.random.default_rng(3)
    absent = np.setdiff1d(np.arange(vdata.ids[0], vdata.ids[-1]), vdata.ids)[:5]
    for size in (5, 40, N // 2):
        allowed = np.concatenate([rng.choice(vdata.ids, size, replace=False), absent])
        recalls = []
        for query in vdata.queries[:20]:
            scores, ids = filled.search(query, K, allowed)
            _check_result(vdata, query, scores, ids, K)
            assert set(ids.tolist()) <= set(allowed.tolist()) - set(absent.tolist())
            want_scores, want_ids = _brute(vdata, query, K, allowed)
            if vengine.exact or size < K:
                assert ids.tolist() == want_ids.tolist()
                np.testing.assert_allclose(scores, want_scores, atol=SCORE_ATOL)
            recalls.append(_recall(ids, want_ids))
        assert np.mean(recalls) >= (1.0 if vengine.exact else MIN_RECALL), (size, np.mean(recalls))
    scores, ids = filled.search(vdata.queries[0], K, np.zeros(0, np.int64))
    assert len(scores) == len(ids) == 0


def test_vector_remove_makes_ids_disappear(vengine: VectorEngine, filled: VectorBackend,
                                           vdata: VectorData) -> None:
    """Removed ids (including current best hits) are never returned again; len drops."""
    rng = np.random.default_rng(4)
    best = [int(filled.search(q, 3)[1][0]) for q in vdata.queries[:20]]
    removed = np.unique(np.concatenate([best, rng.choice(vdata.ids, 100, replace=False)]))
    filled.remove(removed)
    assert len(filled) == N - len(removed)
    rest = VectorData(vdata.ids[~np.isin(vdata.ids, removed)],
                      vdata.vectors[~np.isin(vdata.ids, removed)], vdata.queries)
    gone = set(removed.tolist())
    recalls = []
    for query in vdata.queries:
        scores, ids = filled.search(query, K)
        _check_result(rest, query, scores, ids, K)
        assert not gone & set(ids.tolist())
        want_scores, want_ids = _brute(rest, query, K)
        if vengine.exact:
            assert ids.tolist() == want_ids.tolist()
        recalls.append(_recall(ids, want_ids))
    assert np.mean(recalls) >= (1.0 if vengine.exact else MIN_RECALL)
    assert not gone & set(filled.search(vdata.queries[0], K, removed)[1].tolist())


def test_vectors_for_returns_stored_vectors_exactly(filled: VectorBackend,
                                                    vdata: VectorData) -> None:
    """Any ids, any order: the very vectors that were added."""
    rng = np.random.default_rng(5)
    picks = rng.choice(len(vdata.ids), 50, replace=False)
    got = filled.vectors_for([int(i) for i in vdata.ids[picks]])
    assert got.shape == (50, DIM)
    assert np.array_equal(np.asarray(got, np.float32), vdata.vectors[picks])
    assert filled.vectors_for([]).shape == (0, DIM)


def test_vector_len_tracks_adds_and_removes(vengine: VectorEngine, vdata: VectorData) -> None:
    """len counts what is held through batched adds and removes."""
    backend = vengine.make(DIM, vdata.vectors)
    assert len(backend) == 0
    assert len(backend.search(vdata.queries[0], K)[1]) == 0
    backend.add(vdata.ids[:1000], vdata.vectors[:1000])
    assert len(backend) == 1000
    backend.add(vdata.ids[1000:], vdata.vectors[1000:])
    assert len(backend) == N
    backend.remove(vdata.ids[10:20].tolist())
    assert len(backend) == N - 10
    backend.remove([])
    assert len(backend) == N - 10


def test_vector_k_beyond_size(vengine: VectorEngine, filled: VectorBackend,
                              vdata: VectorData) -> None:
    """k > size: exact returns every vector, best first; approximate returns what it probes."""
    query = vdata.queries[0]
    scores, ids = filled.search(query, N + 500)
    _check_result(vdata, query, scores, ids, N)
    want_scores, want_ids = _brute(vdata, query, N)
    if vengine.exact:
        assert ids.tolist() == want_ids.tolist()
        np.testing.assert_allclose(scores, want_scores, atol=SCORE_ATOL)
    else:  # only the probed lists are scanned (not everything), but the head is right
        assert K < len(ids) <= N
        assert _recall(ids[:K], want_ids[:K]) >= 0.9
    assert len(filled.search(query, 0)[1]) == 0


# ---------------------------------------------------------------------------------------
# Lexical battery
# ---------------------------------------------------------------------------------------

CATEGORIES = ("配送遅延", "商品不良", "請求・返金", "接客態度", "システム障害")
PRODUCTS = ("電気ケトル KT-10", "空気清浄機 AP-300", "電子レンジ MR-200", "通販サイト")
CHANNELS = ("電話", "メール", "チャット", "Webフォーム")
COMPLAINTS = {
    "配送遅延": ["注文した荷物が一週間たっても届かない。", "配達予定日を過ぎても商品が到着しません。",
             "追跡番号を調べても配送状況が更新されない。", "置き配を指定したのに持ち帰られてしまった。"],
    "商品不良": ["{p}の電源が入らない。", "使用中に{p}から異音がする。", "届いた{p}の本体に傷があった。",
             "{p}の付属品が入っていなかった。", "交換品も同じように故障した。"],
    "請求・返金": ["クレジットカードに同じ注文が二重に請求された。", "返品したのに返金がまだ届かない。",
              "クーポンが適用されず高い金額を請求された。"],
    "接客態度": ["電話窓口の担当者の態度が悪く高圧的だった。", "問い合わせへの返信が遅く誠意が感じられない。",
             "店員の言葉遣いが乱暴で不快だった。"],
    "システム障害": ["通販サイトにログインできずエラーが表示される。",
               "パスワードを再設定しても認証に失敗する。", "注文確定ボタンを押すと画面が固まる。"],
}
REQUESTS = ["至急対応してほしい。", "交換を希望します。", "返金してほしい。", "原因の説明をお願いしたい。",
            "二度目の問い合わせです。", ""]
CAUSES = ["配送業者の仕分けミス", "倉庫の出荷遅れ", "部品の初期不良", "決済処理の二重計上",
          "応対手順の不徹底", "認証サーバーの障害"]
RESPONSES = ["お詫びし代替品を発送", "調査のうえ返金", "責任者から謝罪の電話", "障害復旧後に連絡",
             "新品と交換"]
PREVENTIONS = ["検品体制を見直す", "業者との連絡体制を強化", "応対研修を実施", "監視を追加", ""]
# Neutral asides and staff names vary the texts' lengths, so few chunks tie on score.
ASIDES = ["先週の土曜日に", "家族が使っていたところ", "改めて確認したが", "店舗でも相談したが",
          "昨年も購入したが", "説明書を読んだうえで", "夜遅くに", "引っ越しの直後に"]
STAFF = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"]
QUERIES = ["荷物が届かない", "ケトルの電源が入らない", "二重に請求された", "ログインできない エラー",
           "担当者の態度が悪い", "交換品に付属品がない", "KT-10 異音", "返金してほしい",
           "検品体制を見直す", "宇宙旅行"]
FILTERS = [
    Filters(categories=("配送遅延",)),
    Filters(products=("電気ケトル KT-10", "電子レンジ MR-200")),
    Filters(channels=("電話",)),
    Filters(date_from="2024-07-01"),
    Filters(date_to="2024-06-30"),
    Filters(date_from="2024-04-01", date_to="2024-12-31", categories=("商品不良", "配送遅延")),
    Filters(escalated=True),
    Filters(escalated=False),
    Filters(categories=("存在しない分類",)),
]
TWO_CHUNKS = "C-007"  # the case whose complaint is split into two chunks
NO_RESOLUTION_EVERY = 9
TOL = {"rel": 1e-6, "abs": 1e-9}
ALL = 10**6


@dataclass
class Corpus:
    """What was written to the store, kept independently of it (the reference)."""

    store: Store
    cases: dict[str, Case]
    owner: dict[int, str]  # chunk id -> case id
    tokens: dict[int, set[str]]  # chunk id -> its FTS tokens
    chunks: dict[str, list[int]]  # case id -> every chunk id
    embedded: dict[str, list[int]]  # case id -> chunk ids with a vector


def _cases() -> list[Case]:
    """~40 deterministic Japanese cases over a few categories, products, channels and dates."""
    rng = random.Random(20240601)
    start = dt.datetime(2024, 1, 5, 9, 30)
    out: list[Case] = []
    for i in range(40):
        category = CATEGORIES[i % len(CATEGORIES)]
        product = rng.choice(PRODUCTS[:3]) if category in ("配送遅延", "商品不良") else PRODUCTS[3]
        when = start + dt.timedelta(days=13 * i, hours=rng.randint(0, 8))
        date: str | None = when.strftime("%Y-%m-%d %H:%M" if i % 2 else "%Y-%m-%d")
        if i == 13:
            date = "2024-06-30 15:20"  # on date_to's day, with a time: must pass date_to
        if i == 31:
            date = None  # no date: no date filter admits it
        short = product.split()[0]
        sentences = rng.sample(COMPLAINTS[category], k=min(2, len(COMPLAINTS[category])))
        asides = "".join(rng.sample(ASIDES, k=rng.randint(0, 3)))
        content = asides + "".join(s.format(p=short) for s in sentences)
        if rng.random() < 0.4:
            content += rng.choice(COMPLAINTS[rng.choice(CATEGORIES)]).format(p=short)
        resolved = i % NO_RESOLUTION_EVERY != 4
        out.append(Case(
            id=f"C-{i:03d}", content=content, date=date, title=f"{category}の件 {product}",
            customer_request=rng.choice(REQUESTS),
            cause=rng.choice(CAUSES) if resolved else "",
            response=(rng.choice(RESPONSES) + "（対応者 " + "・".join(
                rng.sample(STAFF, k=rng.randint(1, 3))) + "）") if resolved else "",
            prevention=rng.choice(PREVENTIONS) if resolved else "",
            category=category, product=product, channel=rng.choice(CHANNELS),
            escalated=(True, False, None)[i % 3]))
    return out


def _pieces(case: Case) -> list[tuple[str, str]]:
    """(part, text) chunks: the complaint (two chunks for TWO_CHUNKS), then the resolution."""
    if case.id == TWO_CHUNKS:
        parts = [("complaint", f"{case.title}\n{case.content}"),
                 ("complaint", f"{case.customer_request}追加の苦情として電源コードが熱くなる。")]
    else:
        parts = [("complaint", case.complaint_text())]
    if case.resolution_text():
        parts.append(("resolution", case.resolution_text()))
    return parts


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    """A small Store built directly: cases, complaint chunks (with vectors), resolution chunks."""
    store = Store(tmp_path_factory.mktemp("backends") / "kb.sqlite3")
    rng = np.random.default_rng(7)
    found = Corpus(store, {}, {}, {}, {}, {})
    with store.transaction():
        for case in _cases():
            store.upsert_case(case, "2025-01-01T00:00:00")
            found.cases[case.id] = case
            for order, (part, text) in enumerate(_pieces(case)):
                fts = analyser.fts_document(text)
                vector = _unit(rng.normal(size=(1, 8)))[0] if part == "complaint" else None
                cid = store.insert_chunk(case.id, part, order, text,
                                         hashlib.sha1(text.encode()).hexdigest(), vector, fts)
                found.owner[cid] = case.id
                found.tokens[cid] = set(fts.split())
                found.chunks.setdefault(case.id, []).append(cid)
                if vector is not None:
                    found.embedded.setdefault(case.id, []).append(cid)
    # The token model of the reference holds only for plain words: FTS5 re-splits a token
    # such as "wi-fi" or "1.5" into two (see test_lexical_tokens_with_inner_punctuation).
    assert all(re.fullmatch(r"[^\W_]+", t) for ts in found.tokens.values() for t in ts)
    assert len(found.embedded[TWO_CHUNKS]) == 2
    assert any(len(found.chunks[c]) == len(found.embedded[c]) for c in found.cases)
    yield found
    store.close()


@pytest.fixture(scope="module", params=LEXICAL_BACKENDS, ids=lambda e: e.name)
def lengine(request: pytest.FixtureRequest) -> LexicalEngine:
    return _bound(request.param, request)


@pytest.fixture(scope="module")
def lexical(lengine: LexicalEngine, corpus: Corpus) -> LexicalBackend:
    return lengine.make(corpus.store)


@pytest.fixture(scope="module")
def reference(lengine: LexicalEngine) -> Callable[[Store, str], list[tuple[int, float]]]:
    """The ranking the engine under test must reproduce (its own scoring, computed apart)."""
    return lengine.reference


def _reference(store: Store, match: str) -> list[tuple[int, float]]:
    """Every matching chunk with FTS5's own bm25 (cases' weights), best first, ties by id."""
    rows = store.db.execute(
        "SELECT rowid, -bm25(chunks_fts, ?, ?) FROM chunks_fts WHERE chunks_fts MATCH ?",
        (*CASE_WEIGHTS, match)).fetchall()
    return sorted(((int(r), float(s)) for r, s in rows), key=lambda x: (-x[1], x[0]))


def _terms(query: str) -> set[str]:
    return set(analyser.tokens(query))


def _admits(f: Filters, case: Case) -> bool:
    """The filter, decided in Python from the case as written (not from SQL)."""
    day = case.date[:10] if case.date else None
    if (f.date_from or f.date_to) and day is None:
        return False
    return ((not f.date_from or day >= f.date_from)
            and (not f.date_to or day <= f.date_to)
            and (not f.categories or case.category in f.categories)
            and (not f.products or case.product in f.products)
            and (not f.channels or case.channel in f.channels)
            and (f.escalated is None or case.escalated is f.escalated))


def _assert_top(got: list[tuple[int, float]], ranking: list[tuple[int, float]], k: int) -> None:
    """`got` is the top k of `ranking`: the same score at every rank, each id with its true
    score (so ids can differ only among equal scores), no duplicates."""
    want = ranking[:k]
    assert len(got) == len(want), (got, want)
    ids = [cid for cid, _ in got]
    assert len(set(ids)) == len(ids)
    truth = dict(ranking)
    for cid, score in got:
        assert cid in truth, cid
        assert score == pytest.approx(truth[cid], **TOL)
    assert [s for _, s in got] == pytest.approx([s for _, s in want], **TOL)


def test_lexical_reference_matches_the_tokens(corpus: Corpus) -> None:
    """The FTS5 reference finds exactly the chunks that hold a query term (and the data is
    rich enough: every real query hits several cases, and one only via resolutions)."""
    for query in QUERIES:
        terms = _terms(query)
        ranking = _reference(corpus.store, analyser.fts_query(query))
        assert {cid for cid, _ in ranking} == {c for c, ts in corpus.tokens.items() if ts & terms}
        if query != "宇宙旅行":
            assert len({corpus.owner[c] for c, _ in ranking}) >= 3, query
    ranking = _reference(corpus.store, analyser.fts_query("検品体制を見直す"))
    parts = dict(corpus.store.db.execute("SELECT id, part FROM chunks").fetchall())
    assert {parts[c] for c, _ in ranking[:3]} == {"resolution"}


@pytest.mark.parametrize("k", [1, 5, 10, ALL])
def test_lexical_top_matches_fts5_reference(lexical: LexicalBackend, corpus: Corpus,
                                            reference: Callable, k: int) -> None:
    """Same top ids, same scores (1e-6) as the engine's reference (FTS5's bm25 for FTS5 and
    the in-memory BM25) for every query."""
    for query in QUERIES:
        match = analyser.fts_query(query)
        _assert_top(lexical.top(match, k, Filters()), reference(corpus.store, match), k)


def test_lexical_filters_act_before_the_cut(lexical: LexicalBackend, corpus: Corpus,
                                            reference: Callable) -> None:
    """Filtered top-k == full ranking restricted to admitted cases, first k."""
    narrowed = 0
    for f in FILTERS:
        admitted = {cid for cid, case in corpus.cases.items() if _admits(f, case)}
        assert admitted or f.categories == ("存在しない分類",)
        for query in QUERIES:
            match = analyser.fts_query(query)
            ranking = reference(corpus.store, match)
            kept = [(c, s) for c, s in ranking if corpus.owner[c] in admitted]
            for k in (3, 10, ALL):
                got = lexical.top(match, k, f)
                assert {corpus.owner[c] for c, _ in got} <= admitted
                _assert_top(got, kept, k)
            if kept and {c for c, _ in ranking[:3]} != {c for c, _ in kept[:3]}:
                narrowed += 1  # the unfiltered top 3 would not have been the answer
    assert narrowed >= 20


def test_lexical_scores_of_agrees_with_top(lexical: LexicalBackend, corpus: Corpus,
                                           reference: Callable) -> None:
    """Exact scores of given chunks; chunks with no query term (or unknown ids) are omitted."""
    every = sorted(corpus.owner)
    for query in QUERIES:
        match, terms = analyser.fts_query(query), _terms(query)
        got = lexical.scores_of(match, [*every, 10**9])
        assert set(got) == {c for c in every if corpus.tokens[c] & terms}
        assert got == pytest.approx(dict(reference(corpus.store, match)), **TOL)
        assert got == pytest.approx(dict(lexical.top(match, ALL, Filters())), **TOL)
        some = every[::5]
        assert lexical.scores_of(match, some) == pytest.approx(
            {c: s for c, s in got.items() if c in some}, **TOL)
        assert lexical.scores_of(match, []) == {}


def test_lexical_owners_of_maps_chunks_to_cases(lexical: LexicalBackend, corpus: Corpus) -> None:
    """Every chunk to its case; an unknown id is left out."""
    every = sorted(corpus.owner)
    assert lexical.owners_of([*every, 10**9]) == corpus.owner
    assert lexical.owners_of(every[3:6]) == {c: corpus.owner[c] for c in every[3:6]}
    assert lexical.owners_of([]) == {}


def test_lexical_chunks_of_with_and_without_vector(lexical: LexicalBackend,
                                                   corpus: Corpus) -> None:
    """All chunks of each case, or only the embedded (complaint) ones; unknown cases omitted."""
    ids = [*sorted(corpus.cases), "NO-SUCH-CASE"]

    def norm(d: dict[str, list[int]]) -> dict[str, list[int]]:
        return {k: sorted(v) for k, v in d.items()}

    assert norm(lexical.chunks_of(ids)) == corpus.chunks
    assert norm(lexical.chunks_of(ids, with_vector=True)) == corpus.embedded
    assert len(lexical.chunks_of([TWO_CHUNKS], with_vector=True)[TWO_CHUNKS]) == 2
    assert sum(map(len, corpus.chunks.values())) > sum(map(len, corpus.embedded.values()))
    assert lexical.chunks_of([]) == {}


def test_lexical_empty_match_returns_nothing(lexical: LexicalBackend, corpus: Corpus) -> None:
    """A query with nothing searchable ('' from fts_query) gives no hits and no scores."""
    match = analyser.fts_query("★★★、。")
    assert match == ""
    assert lexical.top(match, 10, Filters()) == []
    assert lexical.top(match, 10, Filters(categories=("配送遅延",))) == []
    assert lexical.scores_of(match, sorted(corpus.owner)) == {}
    assert lexical.top(analyser.fts_query("荷物"), 0, Filters()) == []


@pytest.mark.parametrize("engine", LEXICAL_BACKENDS, ids=lambda e: e.name)
def test_lexical_tokens_with_inner_punctuation(engine: LexicalEngine, tmp_path: Path,
                                              request: pytest.FixtureRequest) -> None:
    """Tokens the analyser keeps whole but FTS5 splits (wi-fi, 1.5) score as in the engine's
    reference (FTS5 splits them; Milvus's whitespace analyser keeps our tokens whole)."""
    engine = _bound(engine, request)
    store = Store(tmp_path / "kb.sqlite3")
    try:
        texts = {"A": "Wi-Fiに繋がらない", "B": "Wi Fiが途中で切れる", "C": "料金が1.5倍になった",
                 "D": "1年で壊れた", "E": "荷物が届かない", "F": "電源が入らない"}
        with store.transaction():
            for cid, text in texts.items():
                store.upsert_case(Case(id=cid, content=text), "2025-01-01T00:00:00")
                store.insert_chunk(cid, "complaint", 0, text, cid, None, analyser.fts_document(text))
        backend = engine.make(store)
        for query in ("Wi Fi", "Wi-Fi", "1年", "1.5倍"):
            match = analyser.fts_query(query)
            _assert_top(backend.top(match, 10, Filters()), engine.reference(store, match), 10)
    finally:
        store.close()


# ---------------------------------------------------------------------------------------
# Derived-file lifecycle (kb/index/base.py) and the FAISS file format
# ---------------------------------------------------------------------------------------


def test_atomic_write_replaces_whole_files_and_leaves_no_temp(tmp_path: Path) -> None:
    """Write, overwrite, read back; a reader of the old file keeps it; a failed write keeps
    the old file; nothing but the target is left in the directory after a success."""
    path = tmp_path / "derived.bin"

    def writer(data: bytes) -> Callable[[BinaryIO], None]:
        return lambda handle: handle.write(data)

    atomic_write(path, writer(b"first version"))
    assert path.read_bytes() == b"first version"
    assert os.listdir(tmp_path) == [path.name]
    with path.open("rb") as old:
        atomic_write(path, writer(b"second"))
        assert old.read() == b"first version"  # replaced by rename, not rewritten in place
    assert path.read_bytes() == b"second"
    assert os.listdir(tmp_path) == [path.name]

    def broken(handle: BinaryIO) -> None:
        handle.write(b"half of a ")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_bytes() == b"second"


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_vector_index_save_load_round_trip(kind: str, vdata: VectorData, tmp_path: Path) -> None:
    """save/load keep every vector, the search results and the version tag (file_version)."""
    path = tmp_path / "vectors.faiss"
    make = _faiss_exact if kind == "flat" else _faiss_ivf
    index = make(DIM, vdata.vectors)
    assert isinstance(index, VectorIndex)
    index.add(vdata.ids, vdata.vectors)
    assert file_version(path) is None and VectorIndex.load(path) is None
    index.save(path, version=41)
    assert os.listdir(tmp_path) == [path.name]
    assert file_version(path) == 41
    loaded = VectorIndex.load(path)
    assert loaded is not None
    again, version = loaded
    assert version == 41 and again.dim == DIM and again.kind == kind and len(again) == N
    assert again.ids().tolist() == sorted(vdata.ids.tolist())
    for query in vdata.queries[:10]:
        (s1, i1), (s2, i2) = index.search(query, K), again.search(query, K)
        assert i1.tolist() == i2.tolist() and np.array_equal(s1, s2)
    picks = [int(i) for i in vdata.ids[::97]]
    assert np.array_equal(again.vectors_for(picks), vdata.vectors[::97])

    index.remove(vdata.ids[:100])
    index.save(path, version=42)  # overwrite: the newer state replaces the older
    assert file_version(path) == 42 and os.listdir(tmp_path) == [path.name]
    newer = VectorIndex.load(path)
    assert newer is not None and newer[1] == 42 and len(newer[0]) == N - 100

    whole = path.read_bytes()
    path.write_bytes(whole[:40])  # cut short: the header still reads, the index does not
    assert file_version(path) == 42 and VectorIndex.load(path) is None
    path.write_bytes(b"NOTFAISS" + whole[8:])
    assert file_version(path) is None and VectorIndex.load(path) is None
