"""The in-memory BM25 used on large bases scores exactly as FTS5's bm25() does."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb import Filters, KnowledgeBase
from kb.index import bm25_memory as lexical_index
from kb.index.analyser import fts_query
from kb.index.fts5 import CASE_WEIGHTS as FTS_WEIGHTS
from kb.index.fts5 import Fts5Cases
from kb.storage.layout import LEXICAL

QUERIES = ["荷物が届かない", "ケトルの電源が入らない", "二重に請求された", "ログインできない エラー",
           "KT-10 wrong item", "交換品に付属品がない", "担当者の態度が悪い"]


def test_scores_match_fts5_bm25(sample_base: Path) -> None:
    with KnowledgeBase.open(sample_base) as kb:
        memory = lexical_index.LexicalIndex.build(kb.store.iter_fts_rows(), FTS_WEIGHTS)
        assert len(memory) == kb.stats().chunks
        some_cases = [c.id for c in list(kb.store.get_cases(
            [h.case.id for h in kb.search("荷物", mode="lexical").hits]).values())]
        for with_vector in (False, True):
            assert memory.chunks_of(some_cases, with_vector) == kb.store.chunks_of(
                some_cases, with_vector)
        for query in QUERIES:
            match = fts_query(query)
            fts = Fts5Cases(kb.store).top(match, 1000, Filters())
            ours = dict(memory.top(lexical_index.match_terms(match), 1000))
            assert set(ours) == {cid for cid, _ in fts}
            for cid, score in fts:
                assert ours[cid] == pytest.approx(score, rel=1e-6, abs=1e-9)
            some = [cid for cid, _ in fts[:5]] + [10**9]
            assert memory.scores_of(lexical_index.match_terms(match), some) == pytest.approx(
                Fts5Cases(kb.store).scores_of(match, some), rel=1e-6)


def test_search_with_memory_index_ranks_as_with_fts5(
        sample_base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    filters = Filters(categories=("配送遅延",))

    def ranking(kb: KnowledgeBase, query: str, mode: str, f: Filters | None) -> list[str]:
        return [h.case.id for h in kb.search(query, mode=mode, filters=f).hits]

    runs = [(q, m, f) for q in QUERIES for m in ("hybrid", "lexical") for f in (None, filters)]
    with KnowledgeBase.open(sample_base) as kb:
        expected = [ranking(kb, *run) for run in runs]
    monkeypatch.setattr(lexical_index, "MIN_ROWS", 0)
    with KnowledgeBase.open(sample_base) as kb:
        assert [ranking(kb, *run) for run in runs] == expected
        version = kb.store.index_version("vectors_version")
        saved = lexical_index.LexicalIndex.load(sample_base / LEXICAL, version)
        assert saved is not None and len(saved) == kb.stats().chunks
        assert lexical_index.LexicalIndex.load(sample_base / LEXICAL,
                                               version + 1) is None  # stale: rebuilt
        # Rebuilt when the cases change: a deleted case is not found lexically any more.
        gone = kb.search("荷物が届かない", mode="lexical").hits[0].case.id
        kb.delete_cases([gone])
        assert gone not in [h.case.id for h in kb.search("荷物が届かない", mode="lexical").hits]
