"""Retrieval quality: Recall@k, MRR@10 and nDCG@10 from BEIR-style queries and qrels."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

CUTOFFS = (1, 5, 10)


@dataclass(frozen=True)
class Query:
    id: str
    text: str


def load_queries(path: str | Path) -> list[Query]:
    """JSON lines with `_id`/`text` (BEIR) or `id`/`query`; blank lines skipped."""
    queries: list[Query] = []
    with Path(path).open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                qid = obj.get("_id", obj.get("id", obj.get("query_id")))
                text = obj.get("text", obj.get("query"))
            except (json.JSONDecodeError, AttributeError):
                raise ValueError(f"{path}, line {number}: not a JSON object") from None
            if qid is None or not isinstance(text, str):
                raise ValueError(f"{path}, line {number}: needs '_id' (or 'id') and 'text' "
                                 "(or 'query')")
            queries.append(Query(str(qid), text))
    return queries


def load_qrels(path: str | Path) -> dict[str, dict[str, float]]:
    """TSV `query-id, corpus-id, score` (header optional); only positive grades count."""
    qrels: dict[str, dict[str, float]] = {}
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 2 or row[0] in ("query-id", "query_id", "qid"):
                continue
            grade = float(row[2]) if len(row) > 2 and row[2].strip() else 1.0
            if grade > 0:
                qrels.setdefault(row[0], {})[row[1]] = grade
    return qrels


def metrics_for(ranked: list[str], relevant: dict[str, float]) -> dict[str, float]:
    """Metrics of one ranked list of ids against graded judgments."""
    out: dict[str, float] = {}
    total = len(relevant)
    for k in CUTOFFS:
        out[f"Recall@{k}"] = sum(1 for d in ranked[:k] if d in relevant) / total if total else 0.0
    rr = next((1.0 / i for i, d in enumerate(ranked[:10], start=1) if d in relevant), 0.0)
    out["MRR@10"] = rr
    dcg = sum((2 ** relevant.get(d, 0) - 1) / math.log2(i + 1)
              for i, d in enumerate(ranked[:10], start=1))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum((2**g - 1) / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    out["nDCG@10"] = dcg / idcg if idcg else 0.0
    return out


def mean_metrics(runs: dict[str, list[str]], qrels: dict[str, dict[str, float]]) -> dict[str, float]:
    """Average over queries that have judgments."""
    judged = [q for q in runs if q in qrels]
    if not judged:
        return {}
    sums: dict[str, float] = {}
    for qid in judged:
        for name, value in metrics_for(runs[qid], qrels[qid]).items():
            sums[name] = sums.get(name, 0.0) + value
    return {name: value / len(judged) for name, value in sums.items()}
