"""Milvus as a derived search index: dense vectors and BM25 over our own tokens, with filters.

Two collections per base, both derived from the record store (PostgreSQL) like the FAISS
file is from SQLite: `<prefix>_dense` holds the complaint chunks' unit vectors (FLAT,
inner product: exact, so scores equal FAISS's), `<prefix>_lex` every chunk's tokens.
Japanese analysis stays ours: the tokens are kb/index/analyser.py's Sudachi output,
joined by spaces, and Milvus only splits them on whitespace before its BM25 function.
Its BM25 is Lucene's (IDF log(1 + (N - n + .5)/(n + .5)), k1 1.2, b 0.75), not FTS5's;
the backend battery checks it against that formula. Column weights are FTS5's: each chunk
is either complaint or resolution text, so the two parts are searched separately and the
resolution scores weighted (CASE_WEIGHTS) before the top-k cut. Fusion stays in our code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient

from kb.errors import KnowledgeBaseError
from kb.index.bm25_memory import match_terms
from kb.index.fts5 import CASE_WEIGHTS
from kb.storage.cases import Store
from kb.storage.filters import Filters

MAX_LIMIT = 16384  # Milvus's largest top-k and query window
_BATCH = 2000  # rows per insert/upsert call (well under gRPC's message size at 1024-d)
_IDS_PER_EXPR = 8000  # ids per `id in [...]` expression
_TEXT = 65535
_FIELD = 512
_BM25_PARAMS = {"metric_type": "BM25", "params": {"drop_ratio_search": 0.0}}
PARTS = ("complaint", "resolution")


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """One chunk as Milvus holds it: its vector (None: lexical only), tokens, filter fields."""

    id: int
    case_id: str
    part: str
    vector: np.ndarray | None
    tokens: str
    day: str = ""  # case date 'YYYY-MM-DD', '' when unknown
    category: str = ""
    product: str = ""
    channel: str = ""
    escalated: int = -1  # 1 yes, 0 no, -1 unknown

    def fields(self) -> dict[str, object]:
        return {"id": int(self.id), "case_id": self.case_id, "day": self.day,
                "category": self.category[:_FIELD], "product": self.product[:_FIELD],
                "channel": self.channel[:_FIELD], "escalated": int(self.escalated)}


def connect(uri: str) -> MilvusClient:
    """A client of the Milvus server at `uri`, with a clear error when it is not there."""
    try:
        return MilvusClient(uri=uri, timeout=30)
    except Exception as exc:  # pymilvus raises its own MilvusException and grpc errors
        raise KnowledgeBaseError(
            f"cannot reach Milvus at {uri} ({exc}); start it (README: Running for many "
            f"teams) or fix KB_MILVUS_URI") from exc


def literal(value: str) -> str:
    """A Milvus expression string literal (quotes and backslashes escaped)."""
    return json.dumps(value, ensure_ascii=False)


def _ids_expr(ids: Sequence[int]) -> str:
    return f"id in [{', '.join(str(int(i)) for i in ids)}]"


def filter_expr(filters: Filters | None) -> str:
    """The case filters as a Milvus boolean expression ('' for none), as Filters.sql does."""
    if filters is None or filters.is_empty():
        return ""
    clauses = []
    if filters.date_from or filters.date_to:
        clauses.append('day != ""')
    if filters.date_from:
        clauses.append(f"day >= {literal(filters.date_from[:10])}")
    if filters.date_to:
        clauses.append(f"day <= {literal(filters.date_to[:10])}")
    for name, values in (("category", filters.categories), ("product", filters.products),
                         ("channel", filters.channels)):
        if values:
            clauses.append(f"{name} in [{', '.join(literal(v) for v in values)}]")
    if filters.escalated is not None:
        clauses.append(f"escalated == {1 if filters.escalated else 0}")
    return " and ".join(clauses)


def _and(*parts: str) -> str:
    return " and ".join(f"({p})" for p in parts if p)


def _filter_fields(schema: object) -> None:
    schema.add_field("case_id", DataType.VARCHAR, max_length=_FIELD)
    schema.add_field("day", DataType.VARCHAR, max_length=16)
    for name in ("category", "product", "channel"):
        schema.add_field(name, DataType.VARCHAR, max_length=_FIELD)
    schema.add_field("escalated", DataType.INT8)


class _Collection:
    """One collection: created on first use, counted and emptied by id."""

    def __init__(self, client: MilvusClient, name: str) -> None:
        self.client, self.name = client, name
        if not client.has_collection(name):
            try:
                self._create()
            except Exception:  # another process created it a moment ago: use that one
                if not client.has_collection(name):
                    raise

    def _create(self) -> None:
        raise NotImplementedError

    def __len__(self) -> int:
        rows = self.client.query(self.name, filter="", output_fields=["count(*)"],
                                 consistency_level="Strong")
        return int(rows[0]["count(*)"]) if rows else 0

    def ids(self) -> np.ndarray:
        """Every id held, sorted (kb check compares them with PostgreSQL)."""
        out: list[int] = []
        iterator = self.client.query_iterator(self.name, batch_size=MAX_LIMIT, filter="id >= 0",
                                              output_fields=["id"])
        while batch := iterator.next():
            out.extend(int(r["id"]) for r in batch)
        iterator.close()
        return np.sort(np.asarray(out, dtype=np.int64))

    def remove(self, ids: np.ndarray | list[int]) -> None:
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), _IDS_PER_EXPR):
            self.client.delete(self.name, ids=ids[start : start + _IDS_PER_EXPR])

    def drop(self) -> None:
        if self.client.has_collection(self.name):
            self.client.drop_collection(self.name)

    def _upsert(self, rows: list[dict[str, object]]) -> None:
        for start in range(0, len(rows), _BATCH):
            self.client.upsert(self.name, rows[start : start + _BATCH])


class MilvusVectors(_Collection):
    """Exact inner-product search over unit vectors keyed by chunk id (VectorBackend)."""

    def __init__(self, client: MilvusClient, name: str, dim: int,
                 store: Store | None = None) -> None:
        self.dim = dim
        # The record store (PostgreSQL), where vectors of candidates are read: one SQL round
        # trip instead of a Milvus query by ids (12 ms of a 60 ms hybrid search).
        self.store = store
        super().__init__(client, name)

    def _create(self) -> None:
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        _filter_fields(schema)
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        self.client.create_collection(self.name, schema=schema, index_params=index,
                                      consistency_level="Strong")

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Vectors without case fields (the battery; filters then admit nothing)."""
        self.put([ChunkRow(int(i), "", "complaint", v, "") for i, v in zip(ids, vectors,
                                                                            strict=True)])

    def put(self, rows: Iterable[ChunkRow]) -> None:
        """Insert or replace rows that have a vector, with their filter fields."""
        self._upsert([{**r.fields(), "vector": np.asarray(r.vector, np.float32).tolist()}
                      for r in rows if r.vector is not None])

    # Case filters go to Milvus as an expression over its filter fields, not as a list of
    # admitted chunk ids from PostgreSQL (which would grow with the base).
    filters_natively = True

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
               filters: Filters | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, chunk ids), best first; `allowed` restricts to those ids."""
        empty = np.zeros(0, np.float32), np.zeros(0, np.int64)
        if k <= 0 or (allowed is not None and len(allowed) == 0):
            return empty
        expr = _and(filter_expr(filters), _ids_expr(allowed) if allowed is not None else "")
        hits = self.client.search(
            self.name, data=[np.asarray(query, np.float32).tolist()], anns_field="vector",
            limit=min(k, MAX_LIMIT), filter=expr, output_fields=["id"],
            search_params={"metric_type": "IP"}, consistency_level="Strong")[0]
        if not hits:
            return empty
        return (np.asarray([h["distance"] for h in hits], np.float32),
                np.asarray([h["id"] for h in hits], np.int64))

    def vectors_for(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunk ids, in the order asked: from the record store
        when there is one (a chunk removed since Milvus returned it scores 0), else Milvus's."""
        if self.store is None or not len(ids):
            return self.held_vectors(ids)
        stored = self.store.vectors_of([int(i) for i in ids])
        missing_vector = np.zeros(self.dim, dtype=np.float32)
        return np.asarray([stored.get(int(i), missing_vector) for i in ids], np.float32)

    def held_vectors(self, ids: list[int]) -> np.ndarray:
        """The vectors Milvus itself holds for these chunk ids, in the order asked (kb check
        compares them with PostgreSQL's)."""
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        found: dict[int, list[float]] = {}
        wanted = list(dict.fromkeys(int(i) for i in ids))
        for start in range(0, len(wanted), _IDS_PER_EXPR):
            for row in self.client.query(self.name, ids=wanted[start : start + _IDS_PER_EXPR],
                                         output_fields=["vector"], consistency_level="Strong"):
                found[int(row["id"])] = row["vector"]
        missing = [i for i in wanted if i not in found]
        if missing:
            raise KnowledgeBaseError(f"Milvus collection {self.name} lacks vectors of chunks "
                                     f"{missing[:5]}: run `kb check` to repair it")
        return np.asarray([found[int(i)] for i in ids], dtype=np.float32)


class MilvusLexical(_Collection):
    """BM25 over our analyser's tokens, with the chunks' owners and filter fields (LexicalBackend)."""

    def __init__(self, client: MilvusClient, name: str,
                 weights: tuple[float, float] = CASE_WEIGHTS, store: Store | None = None) -> None:
        self.weights = dict(zip(PARTS, weights, strict=True))
        # Owners and chunks of cases come from the record store when there is one: an indexed
        # SQL lookup each, where Milvus took a query (and a describe_collection) per call.
        self.store = store
        super().__init__(client, name)

    def _create(self) -> None:
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("part", DataType.VARCHAR, max_length=16)
        schema.add_field("has_vector", DataType.BOOL)
        schema.add_field("tokens", DataType.VARCHAR, max_length=_TEXT, enable_analyzer=True,
                         analyzer_params={"tokenizer": "whitespace"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        _filter_fields(schema)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["tokens"], output_field_names=["sparse"]))
        index = self.client.prepare_index_params()
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX",
                        metric_type="BM25")
        self.client.create_collection(self.name, schema=schema, index_params=index,
                                      consistency_level="Strong")

    def put(self, rows: Iterable[ChunkRow]) -> None:
        """Insert or replace chunks (tokens longer than a Milvus text field are cut)."""
        self._upsert([{**r.fields(), "part": r.part, "has_vector": r.vector is not None,
                       "tokens": _fit(r.tokens)} for r in rows])

    def _search(self, terms: list[str], limit: int, expr: str) -> list[tuple[int, float]]:
        """(chunk id, weighted BM25) per part, merged: the top `limit` of the weighted score."""
        found: list[tuple[int, float]] = []
        text = " ".join(terms)
        for part, weight in self.weights.items():
            hits = self.client.search(
                self.name, data=[text], anns_field="sparse", limit=min(limit, MAX_LIMIT),
                filter=_and(f"part == {literal(part)}", expr), output_fields=["id"],
                search_params=_BM25_PARAMS, consistency_level="Strong")[0]
            found += [(int(h["id"]), weight * float(h["distance"])) for h in hits
                      if h["distance"] > 0]
        return sorted(found, key=lambda x: (-x[1], x[0]))[:limit]

    def top(self, match: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        """(chunk id, score) best first for an FTS5-style OR query; filters act before the cut."""
        terms = list(dict.fromkeys(match_terms(match)))
        if not terms or k <= 0:
            return []
        return self._search(terms, k, filter_expr(filters))

    def scores_of(self, match: str, chunk_ids: list[int]) -> dict[int, float]:
        """Exact scores of given chunks, only those where some term occurs."""
        terms = list(dict.fromkeys(match_terms(match)))
        ids = list(dict.fromkeys(int(i) for i in chunk_ids))
        out: dict[int, float] = {}
        if not terms:
            return out
        for start in range(0, len(ids), MAX_LIMIT):
            part = ids[start : start + MAX_LIMIT]
            out.update(self._search(terms, len(part), _ids_expr(part)))
        return out

    def owners_of(self, chunk_ids: list[int]) -> dict[int, str]:
        """chunk id -> case id (unknown ids left out)."""
        ids = list(dict.fromkeys(int(i) for i in chunk_ids))
        if self.store is not None:
            return self.store.case_of(ids)
        out: dict[int, str] = {}
        for start in range(0, len(ids), _IDS_PER_EXPR):
            out.update((int(r["id"]), r["case_id"]) for r in self.client.query(
                self.name, ids=ids[start : start + _IDS_PER_EXPR], output_fields=["case_id"],
                consistency_level="Strong"))
        return out

    def chunks_of(self, case_ids: list[str], with_vector: bool = False) -> dict[str, list[int]]:
        """case id -> its chunk ids (only embedded ones if `with_vector`)."""
        if self.store is not None:
            return {c: sorted(ids) for c, ids in self.store.chunks_of(
                list(dict.fromkeys(case_ids)), with_vector).items()}
        out: dict[str, list[int]] = {}
        wanted = list(dict.fromkeys(case_ids))
        for start in range(0, len(wanted), _IDS_PER_EXPR // 8):
            part = wanted[start : start + _IDS_PER_EXPR // 8]
            expr = _and(f"case_id in [{', '.join(literal(c) for c in part)}]",
                        "has_vector == true" if with_vector else "")
            for row in self.client.query(self.name, filter=expr, output_fields=["case_id"],
                                         limit=MAX_LIMIT, consistency_level="Strong"):
                out.setdefault(row["case_id"], []).append(int(row["id"]))
        return {c: sorted(ids) for c, ids in out.items()}


def _fit(tokens: str) -> str:
    """Tokens within a Milvus VARCHAR (bytes, not characters), cut at a token boundary."""
    raw = tokens.encode("utf-8")
    if len(raw) <= _TEXT:
        return tokens
    return raw[:_TEXT].decode("utf-8", "ignore").rsplit(" ", 1)[0]
