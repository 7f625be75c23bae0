"""Both backends side by side: embedded SQLite/FTS5/FAISS and PostgreSQL + Milvus (issue 14).

    python bench/backends.py quality [--base DIR] [--judged 0]   # JaQuAD, every judged query
    python bench/backends.py scale --index /tmp/kb-scale/100k [--n 300] [--judged 300] [--ingest 3000]

Both start their own PostgreSQL and Milvus Lite servers on 127.0.0.1 in temp dirs (the
test fixtures' code, tests/servers.py) and stop them after.

quality: the 1,431 JaQuAD paragraphs in an embedded base (`--base`, or built with the
default model), copied onto the servers by `kb migrate` (the same vectors and tokens), then
nDCG@10 of every judged query in every mode on both. Query vectors are computed once and
shared by the two bases, so the figure compares the backends (FTS5 against Milvus BM25,
FAISS against Milvus, their fusion calibrations), not the encoder. Prints the differences
and whether hybrid is at least both halves on each backend.

scale: an embedded base built by bench/scale_build.py is copied with `kb migrate` into the
servers (timed, no re-embedding); then on both, in one run: warm p50/p95 per mode (query
embedding included), nDCG@10 on JaQuAD queries, and the ingest cases/s of `--ingest` new
synthetic cases into a fresh base of each backend with the base's model.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale_data import jaquad_cases, scale_cases
from scale_query import percentiles

from kb import KnowledgeBase, load_qrels, load_queries, mean_metrics
from kb.embeddings import Embedder
from kb.ops.migrate import migrate_to_servers
from kb.search.results import MODES
from tests.servers import new_database, running_milvus, running_postgres

DATA = ROOT.parent / "shared" / "data" / "jaquad_dev"
SERVER = "postgres+milvus"


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    with running_postgres() as admin, running_milvus() as uri:
        yield admin, uri


def use_backend(name: str, admin: str, uri: str) -> None:
    """Point KB_BACKEND at `name`; the server backend on a fresh database of its own."""
    os.environ["KB_BACKEND"] = name
    if name == SERVER:
        os.environ["KB_POSTGRES_URL"] = new_database(admin)
        os.environ["KB_MILVUS_URI"] = uri


def share_query_vectors(embedder: Embedder, memo: dict[str, np.ndarray]) -> None:
    """Encode each query text once across both bases (the same model gives the same vector)."""
    encode = type(embedder).encode_queries

    def cached(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            memo.update(zip(missing, encode(embedder, missing), strict=True))
        return np.stack([memo[t] for t in texts]) if texts else np.zeros((0, embedder.dim))

    embedder.encode_queries = cached  # type: ignore[method-assign]


def judged_queries(limit: int) -> tuple[list, dict]:
    qrels = load_qrels(DATA / "qrels.tsv")
    queries = [q for q in load_queries(DATA / "queries.jsonl") if q.id in qrels]
    return queries[: limit or None], qrels


def ndcg_per_mode(kb: KnowledgeBase, queries: list, qrels: dict) -> dict[str, float]:
    out = {}
    for mode in MODES:
        results = kb.search_many([q.text for q in queries], top_k=10, mode=mode)
        runs = {q.id: [h.case.id for h in r.hits] for q, r in zip(queries, results, strict=True)}
        out[mode] = mean_metrics(runs, qrels)["nDCG@10"]
    return out


def report_quality(ndcg: dict[str, dict[str, float]], n: int) -> None:
    print(f"\nnDCG@10 on {n} judged JaQuAD queries")
    print(f"{'mode':<8} {'sqlite':>8} {SERVER:>16} {'diff':>8}")
    for mode in MODES:
        a, b = ndcg["sqlite"][mode], ndcg[SERVER][mode]
        print(f"{mode:<8} {a:8.4f} {b:16.4f} {b - a:+8.4f}")
    worst = max(abs(ndcg["sqlite"][m] - ndcg[SERVER][m]) for m in MODES)
    print(f"largest difference {worst:.4f} (target ≤ 0.005): {'met' if worst <= 0.005 else 'NOT met'}")
    for name, row in ndcg.items():
        margin = row["hybrid"] - max(row["dense"], row["lexical"])
        print(f"{name}: hybrid - best half = {margin:+.4f} "
              f"({'hybrid ≥ both halves' if margin >= 0 else 'hybrid BELOW a half'})")


def quality(args: argparse.Namespace) -> None:
    queries, qrels = judged_queries(args.judged)
    memo: dict[str, np.ndarray] = {}
    ndcg: dict[str, dict[str, float]] = {}
    with servers() as (admin, uri), tempfile.TemporaryDirectory() as tmp:
        embedded = args.base or Path(tmp) / "sqlite"
        os.environ["KB_BACKEND"] = "sqlite"
        if args.base is None:  # build it: the 1,431 paragraphs, the default model
            with KnowledgeBase.open(embedded) as kb:
                started = time.perf_counter()
                kb.ingest_cases(jaquad_cases())
                print(f"sqlite: ingested 1,431 paragraphs with {kb.embedder.name} in "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
        use_backend(SERVER, admin, uri)
        started = time.perf_counter()
        report = migrate_to_servers(embedded)  # the same vectors and tokens, no re-embedding
        print(f"kb migrate --to {SERVER}: {report.rows['cases']:,} cases in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        for name in ("sqlite", SERVER):
            os.environ["KB_BACKEND"] = name
            where = embedded if name == "sqlite" else Path(tmp) / "server"
            with KnowledgeBase.open(where, create=name != "sqlite") as kb:
                share_query_vectors(kb.embedder, memo)
                ndcg[name] = ndcg_per_mode(kb, queries, qrels)
                print(f"{name} ({kb.embedder.name}, dense prior {kb.stats().fusion_dense_prior}): "
                      + ", ".join(f"{m} {v:.4f}" for m, v in ndcg[name].items()), flush=True)
    report_quality(ndcg, len(queries))


def timed_modes(kb: KnowledgeBase, texts: list[str]) -> dict[str, tuple[float, float]]:
    return {mode: percentiles(lambda q, m=mode: kb.search(q, mode=m), texts) for mode in MODES}


def ingest_rate(name: str, model: str, n: int, admin: str, uri: str, tmp: Path) -> float:
    use_backend(name, admin, uri)
    os.environ["KB_EMBEDDING_MODEL"] = model
    with KnowledgeBase.open(tmp / f"ingest-{name.replace('+', '_')}") as kb:
        started = time.perf_counter()
        kb.ingest_cases(list(islice(scale_cases(n, seed=7), n)))
        return n / (time.perf_counter() - started)


def scale(args: argparse.Namespace) -> None:
    queries = load_queries(DATA / "queries.jsonl")
    texts = [q.text for q in queries][: args.n]
    judged, qrels = judged_queries(args.judged)
    latency, ndcg, rates = {}, {}, {}
    with servers() as (admin, uri), tempfile.TemporaryDirectory() as tmp:
        use_backend(SERVER, admin, uri)
        started = time.perf_counter()
        report = migrate_to_servers(args.index)
        print(f"kb migrate --to {SERVER}: {report.rows['cases']:,} cases, "
              f"{report.rows['chunks']:,} chunks in {time.perf_counter() - started:.0f} s "
              "(copy + Milvus build, no re-embedding)", flush=True)
        for name in ("sqlite", SERVER):
            os.environ["KB_BACKEND"] = name
            where = args.index if name == "sqlite" else Path(tmp) / "server"
            with KnowledgeBase.open(where, create=name != "sqlite") as kb:
                model = kb.embedder.name
                kb.search(texts[0])  # load what a first search loads
                latency[name] = timed_modes(kb, texts)
                ndcg[name] = ndcg_per_mode(kb, judged, qrels)
            print(f"{name}: " + "; ".join(f"{m} p50 {a:.1f} / p95 {b:.1f} ms"
                                          for m, (a, b) in latency[name].items()), flush=True)
        for name in ("sqlite", SERVER):
            rates[name] = ingest_rate(name, model, args.ingest, admin, uri, Path(tmp))
            print(f"{name}: ingest {args.ingest:,} new cases at {rates[name]:.1f} cases/s",
                  flush=True)
    print(f"\n{'backend':<16} {'hybrid p50/p95':>16} {'dense p50/p95':>15} "
          f"{'lexical p50/p95':>16} {'ingest cases/s':>15}")
    for name in ("sqlite", SERVER):
        cells = [f"{latency[name][m][0]:.1f} / {latency[name][m][1]:.1f}" for m in MODES]
        print(f"{name:<16} {cells[0]:>16} {cells[1]:>15} {cells[2]:>16} {rates[name]:>15.1f}")
    report_quality(ndcg, len(judged))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality", help="JaQuAD nDCG@10 per mode on both backends")
    q.add_argument("--judged", type=int, default=0, help="judged queries (0 = all 3,939)")
    q.add_argument("--base", type=Path, help="an embedded JaQuAD base to use (else built: "
                   "1,431 paragraphs with the default model, ~2 minutes on idle cores)")
    s = sub.add_parser("scale", help="latency, quality and ingest rate on a built base")
    s.add_argument("--index", type=Path, required=True)
    s.add_argument("--n", type=int, default=300, help="queries timed per mode")
    s.add_argument("--judged", type=int, default=300)
    s.add_argument("--ingest", type=int, default=3000, help="new cases ingested per backend")
    args = parser.parse_args()
    quality(args) if args.what == "quality" else scale(args)


if __name__ == "__main__":
    main()
