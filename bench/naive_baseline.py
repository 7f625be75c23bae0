"""The hybrid search most people would write first: numpy brute force over every vector,
rank_bm25 over character bigrams, reciprocal rank fusion of the two top-100 lists.

Same embedder, same texts and (to save hours of embedding) the same chunk vectors our base
stored; only indexing and search differ.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from kb.embeddings import Embedder
from kb.index.analyser import normalize

_WORD = re.compile(r"[a-z0-9]+")


def bigrams(text: str) -> list[str]:
    """Latin words by whitespace, everything else by character bigrams (no analyser)."""
    text = normalize(text).lower()
    words = _WORD.findall(text)
    rest = _WORD.sub(" ", text)
    grams = [a + b for part in rest.split() for a, b in zip(part, part[1:], strict=False)]
    return words + grams


class NaiveSearch:
    """One row per chunk; results are case ids, best chunk per case."""

    def __init__(self, index_dir: Path, embedder: Embedder) -> None:
        db = sqlite3.connect(index_dir / "kb.sqlite3")
        rows = db.execute("SELECT case_id, text, vector FROM chunks WHERE part = 'complaint' "
                          "ORDER BY id").fetchall()
        db.close()
        self.embedder = embedder
        self.case_ids = [r[0] for r in rows]
        self.vectors = np.vstack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
        self.bm25 = BM25Okapi([bigrams(r[1]) for r in rows])

    def _top_cases(self, scores: np.ndarray, k: int) -> list[str]:
        order = np.argsort(-scores)[: 4 * k]
        return list(dict.fromkeys(self.case_ids[i] for i in order))[:k]

    def search(self, query: str, mode: str = "hybrid", top_k: int = 10) -> list[str]:
        dense = lexical = None
        if mode != "lexical":
            q = self.embedder.encode_queries([query])[0]
            dense = self._top_cases(self.vectors @ q, 100)
        if mode != "dense":
            lexical = self._top_cases(np.asarray(self.bm25.get_scores(bigrams(query))), 100)
        if mode == "dense":
            return dense[:top_k]
        if mode == "lexical":
            return lexical[:top_k]
        fused: dict[str, float] = {}
        for ranking in (dense, lexical):
            for rank, case_id in enumerate(ranking, start=1):
                fused[case_id] = fused.get(case_id, 0.0) + 1.0 / (60 + rank)
        return sorted(fused, key=fused.get, reverse=True)[:top_k]
