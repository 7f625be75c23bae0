"""Search speed and quality on a built base, against the naive version, in one run.

    python bench/scale_query.py --index /tmp/kb-scale/100k [--n 300] [--judged 300] [--naive]

Prints: cold start to first result (a fresh process: imports, model, open, search); warm
p50/p95 per mode with the query embedding included, and what each part costs; nDCG@10 on
the JaQuAD queries (their paragraphs are cases of every scale base); peak RSS and bytes on
disk; with --naive the same for bench/naive_baseline.py and the ratios.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from naive_baseline import NaiveSearch

from kb import Filters, KnowledgeBase
from kb.index.analyser import fts_query
from kb.search.evaluate import load_qrels, load_queries, mean_metrics
from kb.search.results import MODES

DATA = ROOT.parent / "shared" / "data" / "jaquad_dev"
COLD = """
import time; t0 = time.perf_counter()
import sys; sys.path.insert(0, {root!r})
from kb import KnowledgeBase
kb = KnowledgeBase.open({index!r}, create=False)
kb.search({query!r})
print(f"{{(time.perf_counter() - t0) * 1000:.0f}}")
"""


def percentiles(run: Callable[[str], object], queries: list[str]) -> tuple[float, float]:
    for q in queries[:20]:  # warm-up
        run(q)
    times = []
    for q in queries:
        t = time.perf_counter()
        run(q)
        times.append((time.perf_counter() - t) * 1000)
    p50, p95 = np.percentile(times, [50, 95])
    return float(p50), float(p95)


def ndcg(search: Callable[[str], list[str]], judged: list[tuple[str, str]],
         qrels: dict[str, dict[str, float]]) -> float:
    runs = {qid: search(text) for qid, text in judged}
    return mean_metrics(runs, qrels)["nDCG@10"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--n", type=int, default=300, help="queries timed per mode")
    parser.add_argument("--judged", type=int, default=0, help="judged queries (0 = all 3,939)")
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--naive-n", type=int, default=100, help="queries timed per naive mode")
    args = parser.parse_args()
    queries = load_queries(DATA / "queries.jsonl")
    qrels = load_qrels(DATA / "qrels.tsv")
    texts = [q.text for q in queries]
    judged = [(q.id, q.text) for q in queries if q.id in qrels][: args.judged or None]

    cold = subprocess.run([sys.executable, "-c", COLD.format(root=str(ROOT), index=str(args.index),
                                                             query=texts[0])],
                          capture_output=True, text=True, check=True).stdout.strip()
    kb = KnowledgeBase.open(args.index, create=False)
    stats = kb.stats()
    disk = sum(p.stat().st_size for p in args.index.rglob("*") if p.is_file())
    print(f"{stats.cases:,} cases, {stats.vectors:,} vectors, index {kb.index.kind} "
          f"({type(kb.index.index).__name__}); {disk / 1e6:.0f} MB on disk; "
          f"cold start to first result {cold} ms (fresh process, OS file cache warm)")

    ours: dict[str, tuple[float, float]] = {}
    for mode in MODES:
        ours[mode] = percentiles(lambda q, m=mode: kb.search(q, mode=m), texts[: args.n])
        print(f"ours   {mode:<8} p50 {ours[mode][0]:6.1f} ms  p95 {ours[mode][1]:6.1f} ms")
    hits = kb.search(texts[0], filters=Filters(escalated=True)).hits
    assert all(h.case.escalated for h in hits)

    # What the hybrid figure is made of, each part timed alone on the same queries.
    vectors = kb.embedder.encode_queries(texts[: args.n])
    parts = {
        "query embedding": lambda i: kb.embedder.encode_queries([texts[i]]),
        "FAISS top-100": lambda i: kb.index.search(vectors[i], 100),
        "BM25 top-100 (search's path)": lambda i: lexical_top(fts_query(texts[i])),
        "query analysis (Sudachi)": lambda i: fts_query(texts[i]),
    }
    lexical = kb.lexical_backend()

    def lexical_top(match: str) -> object:
        return lexical.top(match, 100, Filters())

    index_of = {t: i for i, t in enumerate(texts[: args.n])}
    for name, part in parts.items():
        p50, p95 = percentiles(lambda q, f=part: f(index_of[q]), texts[: args.n])
        print(f"  part: {name:<26} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")
    print(f"peak RSS (ours, after timing) {peak_rss_mb():.0f} MB", flush=True)

    quality = {m: ndcg(lambda q, m=m: [h.case.id for h in kb.search(q, mode=m,
                                                                   passages=0).hits],
                       judged, qrels) for m in MODES}
    print("ours   nDCG@10 on " + f"{len(judged)} JaQuAD queries: "
          + ", ".join(f"{m} {v:.4f}" for m, v in quality.items()), flush=True)
    if not args.naive:
        return
    started = time.perf_counter()
    naive = NaiveSearch(args.index, kb.embedder)
    print(f"\nnaive: index built in {time.perf_counter() - started:.1f} s (vectors reused); "
          f"peak RSS now {peak_rss_mb():.0f} MB", flush=True)
    naive_judged = judged[: args.naive_n] if args.judged == 0 and stats.cases > 5000 else judged
    for mode in MODES:
        p50, p95 = percentiles(lambda q, m=mode: naive.search(q, m), texts[: args.naive_n])
        print(f"naive  {mode:<8} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms; ours is "
              f"{p50 / ours[mode][0]:.1f}x faster at p50, {p95 / ours[mode][1]:.1f}x at p95",
              flush=True)
    for mode in MODES:
        theirs = ndcg(lambda q, m=mode: naive.search(q, m), naive_judged, qrels)
        mine = ndcg(lambda q, m=mode: [h.case.id for h in kb.search(q, mode=m, passages=0).hits],
                    naive_judged, qrels)
        print(f"nDCG@10 {mode:<8} on {len(naive_judged)} queries: naive {theirs:.4f}, "
              f"ours {mine:.4f}", flush=True)


if __name__ == "__main__":
    main()
