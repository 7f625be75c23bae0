"""Search manual passages: the same dense + lexical fusion as for cases, over doc_chunks."""

from __future__ import annotations

import numpy as np

from kb.index import analyser
from kb.index.base import VectorBackend
from kb.index.bm25_memory import memory_passages
from kb.index.fts5 import PASSAGE_WEIGHTS, Fts5Table
from kb.search.confidence import Bands
from kb.search.fusion import adaptive
from kb.search.results import PassageHit
from kb.storage.documents import DocumentStore

PER_DOCUMENT = 2  # at most this many passages of one manual, so several manuals can show
# A passage shares a query word, or is nearly as close in meaning as the closest one;
# otherwise a base with few manuals would show unrelated passages just to fill the list.
DENSE_MARGIN = 0.1
# Dense prior for manual passages: the cases' old default, kept (passage retrieval was not
# re-measured when the cases' priors were, BENCHMARKS.md).
PASSAGE_DENSE_PRIOR = 0.4


def search_passages(docs: DocumentStore, index: VectorBackend, query: str,
                    qvec: np.ndarray | None, top_k: int = 5, mode: str = "hybrid",
                    depth: int = 50, bands: Bands | None = None) -> list[PassageHit]:
    """Best passages for the query, each with its document, pages and heading path.

    With the model's `bands` (kb/search/confidence.py) a passage must be close in meaning
    (cosine >= bands.passage) or hold most of the query's telling words, so an unrelated
    query shows no manual at all; without them, the older relative rule applies.
    """
    if top_k <= 0 or not query.strip():
        return []
    scored, dense, lexical = _scores(docs, index, query, qvec, mode, depth)
    if bands is None or mode == "lexical":
        best_dense = max(dense.values(), default=0.0)
        scored = {i: v for i, v in scored.items() if lexical.get(i, 0.0) > 0
                  or (i in dense and dense[i] >= best_dense - DENSE_MARGIN)}
    ranked = sorted(scored, key=scored.get, reverse=True)[: top_k * 4]
    stored = docs.passages(ranked)
    words = analyser.typed_words(query)  # shown as typed, noise dropped
    hits: list[PassageHit] = []
    per_doc: dict[str, int] = {}
    for chunk_id in ranked:
        passage = stored.get(chunk_id)
        if passage is None or per_doc.get(passage.document_id, 0) >= PER_DOCUMENT:
            continue
        text = " ".join([*passage.heading_path, passage.text])  # headings count too
        found = sorted(set(words).intersection(analyser.tokens(text)))
        coverage = len(found) / len(words) if words else None
        if bands is not None and mode != "lexical" and dense.get(chunk_id, -1.0) < bands.passage \
                and bands.words_level(coverage, len(words)) == "low":
            continue
        per_doc[passage.document_id] = per_doc.get(passage.document_id, 0) + 1
        hits.append(PassageHit(passage.document_id, passage.title, passage.text,
                               passage.page_start, passage.page_end, passage.heading_path,
                               float(scored[chunk_id]), [words[t] for t in found]))
        if len(hits) == top_k:
            break
    return hits


def _scores(docs: DocumentStore, index: VectorBackend, query: str, qvec: np.ndarray | None,
            mode: str, depth: int) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
    """(fused or single-ranker scores, cosines, BM25) of the candidate passages."""
    match = analyser.fts_query(query)
    fts = (Fts5Table(docs, "doc_chunks_fts", PASSAGE_WEIGHTS) if docs.fts5
           else memory_passages(docs, PASSAGE_WEIGHTS))
    dense: dict[int, float] = {}
    lexical: dict[int, float] = {}
    if mode != "lexical" and qvec is not None:
        scores, ids = index.search(qvec, depth)
        dense = dict(zip(ids.tolist(), scores.tolist(), strict=True))
    if mode != "dense":
        lexical = dict(fts.top(match, depth))
    if mode != "hybrid":
        return (dense if mode == "dense" else lexical), dense, lexical
    ids = list(dict.fromkeys([*dense, *lexical]))
    missing = [i for i in ids if i not in dense]
    if missing and qvec is not None:
        dense.update(zip(missing, (index.vectors_for(missing) @ qvec).tolist(), strict=True))
    lexical.update(fts.scores_of(match, [i for i in ids if i not in lexical]))
    d = np.array([dense.get(i, 0.0) for i in ids])
    lx = np.array([lexical.get(i, 0.0) for i in ids])
    fused = adaptive(d, lx, PASSAGE_DENSE_PRIOR) if ids else np.zeros(0)
    return dict(zip(ids, fused.tolist(), strict=True)), dense, lexical
