"""Search manual passages: the same dense + lexical fusion as for cases, over doc_chunks."""

from __future__ import annotations

import numpy as np

from kb.index import analyser
from kb.index.base import VectorBackend
from kb.index.fts5 import PASSAGE_WEIGHTS, Fts5Table
from kb.search.fusion import DEFAULT_DENSE_PRIOR, adaptive
from kb.search.results import PassageHit
from kb.storage.documents import DocumentStore

PER_DOCUMENT = 2  # at most this many passages of one manual, so several manuals can show
# A passage shares a query word, or is nearly as close in meaning as the closest one;
# otherwise a base with few manuals would show unrelated passages just to fill the list.
DENSE_MARGIN = 0.1


def search_passages(docs: DocumentStore, index: VectorBackend, query: str,
                    qvec: np.ndarray | None, top_k: int = 5, mode: str = "hybrid",
                    depth: int = 50) -> list[PassageHit]:
    """Best passages for the query, each with its document, pages and heading path."""
    if top_k <= 0 or not query.strip():
        return []
    match = analyser.fts_query(query)
    fts = Fts5Table(docs, "doc_chunks_fts", PASSAGE_WEIGHTS)
    dense: dict[int, float] = {}
    lexical: dict[int, float] = {}
    if mode != "lexical" and qvec is not None:
        scores, ids = index.search(qvec, depth)
        dense = dict(zip(ids.tolist(), scores.tolist(), strict=True))
    if mode != "dense":
        lexical = dict(fts.top(match, depth))
    if mode == "hybrid":
        ids = list(dict.fromkeys([*dense, *lexical]))
        missing = [i for i in ids if i not in dense]
        if missing and qvec is not None:
            dense.update(zip(missing, (index.vectors_for(missing) @ qvec).tolist(), strict=True))
        lexical.update(fts.scores_of(match, [i for i in ids if i not in lexical]))
        d = np.array([dense.get(i, 0.0) for i in ids])
        lx = np.array([lexical.get(i, 0.0) for i in ids])
        fused = adaptive(d, lx, DEFAULT_DENSE_PRIOR) if ids else np.zeros(0)
        scored = dict(zip(ids, fused.tolist(), strict=True))
    else:
        scored = dense if mode == "dense" else lexical
    best_dense = max(dense.values(), default=0.0)
    relevant = {i for i in scored if lexical.get(i, 0.0) > 0
                or (i in dense and dense[i] >= best_dense - DENSE_MARGIN)}
    ranked = sorted(relevant, key=scored.get, reverse=True)
    stored = docs.passages(ranked[: top_k * 4])
    terms = {t for t in analyser.tokens(query) if not t.isdigit()}
    hits: list[PassageHit] = []
    per_doc: dict[str, int] = {}
    for chunk_id in ranked[: top_k * 4]:
        passage = stored.get(chunk_id)
        if passage is None or per_doc.get(passage.document_id, 0) >= PER_DOCUMENT:
            continue
        per_doc[passage.document_id] = per_doc.get(passage.document_id, 0) + 1
        found = sorted(terms.intersection(analyser.tokens(passage.text)))
        hits.append(PassageHit(passage.document_id, passage.title, passage.text,
                               passage.page_start, passage.page_end, passage.heading_path,
                               float(scored[chunk_id]), found))
        if len(hits) == top_k:
            break
    return hits
