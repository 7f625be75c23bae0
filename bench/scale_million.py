"""A 1M-case base from a built 100k base, then search on it in bounded memory.

    python bench/scale_million.py --source /tmp/kb-scale/100k --dir /tmp/kb-scale/1m

Embedding a million cases with USE on 2 cores would take most of a day, so this reuses
computed vectors with perturbation (and says so): case i copies the text and analysed FTS
tokens of source chunk i mod N (N = the source's chunks, ~100k), drops 20% of the tokens at
random, and gets the source vector mixed with another real vector (weight 0.6-1.0) plus
Gaussian noise (sigma 0.03), renormalised. Copies 1..9 get new ids (`M-...`) and dates;
the JaQuAD paragraphs keep theirs, so the JaQuAD queries are still judged. Everything is
streamed in batches. Then the base is opened the normal way (the FAISS index is built from
SQLite, IVF above the threshold) and timed like bench/scale_query.py; recall@10 of the IVF
index is measured against exact search over the same 1M vectors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb import KnowledgeBase
from kb.search.evaluate import load_queries
from kb.search.results import MODES
from kb.storage.cases import row_to_case

DATA = ROOT.parent / "shared" / "data" / "jaquad_dev"
_COLUMNS = ["id", "date", "title", "content", "customer_request", "cause", "response",
            "prevention", "category", "product", "channel", "severity", "escalated", "status",
            "metadata", "source"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(source: Path, target: Path, total: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    src = sqlite3.connect(source / "kb.sqlite3")
    rows = src.execute(
        "SELECT c.id, c.case_id, c.text, c.text_hash, c.vector, f.primary_text FROM chunks c "
        "JOIN chunks_fts f ON f.rowid = c.id WHERE c.part = 'complaint' ORDER BY c.id"
    ).fetchall()
    cases = {r[0]: row_to_case(r, _COLUMNS) for r in src.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM cases")}
    src.close()
    real = np.vstack([np.frombuffer(r[4], dtype=np.float32) for r in rows])
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    start = dt.date(2015, 1, 1)
    with KnowledgeBase.open(target) as kb, kb.store.transaction():
        kb.store.mark_index_changed("vectors_version")
        written: set[str] = set()
        for copy in range(int(np.ceil(total / len(rows)))):
            base = 0
            while base < len(rows):
                part = rows[base : base + 20000]
                other = rng.integers(0, len(real), len(part))
                w = rng.uniform(0.6, 1.0, (len(part), 1)).astype(np.float32)
                block = real[base : base + len(part)]
                vecs = w * block + (1 - w) * real[other] if copy else block.copy()
                if copy:
                    vecs += rng.normal(0, 0.03, vecs.shape).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                for (_, case_id, text, digest, _, tokens), vec in zip(part, vecs,
                                                                            strict=True):
                    new_id = case_id if copy == 0 else f"M{copy}-{case_id}"
                    if new_id not in written:
                        if len(written) >= total:
                            break
                        case = cases[case_id]
                        if copy:
                            day = start + dt.timedelta(days=int(rng.integers(0, 11 * 365)))
                            case = type(case)(**{**case.__dict__, "id": new_id,
                                                 "date": day.isoformat()})
                        kb.store.upsert_case(case, now)
                        written.add(new_id)
                    words = tokens.split()
                    if copy:
                        words = [t for t in words if rng.random() >= 0.2]
                    kb.store.insert_chunk(new_id, "complaint", 0, text, digest, vec,
                                          " ".join(words))
                base += len(part)
            print(f"  {len(written):,} cases written", flush=True)
            if len(written) >= total:
                break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="reuse the built base")
    args = parser.parse_args()
    if not (args.keep and (args.dir / "kb.sqlite3").exists()):
        shutil.rmtree(args.dir, ignore_errors=True)
        t = time.perf_counter()
        build(args.source, args.dir, args.cases)
        print(f"written in {time.perf_counter() - t:.0f} s; peak RSS {peak_rss_mb():.0f} MB",
              flush=True)
    t = time.perf_counter()
    kb = KnowledgeBase.open(args.dir, create=False)
    kb.search("荷物が届かない")
    print(f"open (FAISS index built or loaded) + first search {time.perf_counter() - t:.0f} s; "
          f"index {kb.index.kind}, {len(kb.index):,} vectors, "
          f"nlist {getattr(kb.index.index, 'nlist', '-')}, "
          f"nprobe {getattr(kb.index.index, 'nprobe', '-')}; peak RSS {peak_rss_mb():.0f} MB",
          flush=True)
    texts = [q.text for q in load_queries(DATA / "queries.jsonl")]
    for mode in MODES:
        for q in texts[:20]:
            kb.search(q, mode=mode)
        times = []
        for q in texts[: args.n]:
            s = time.perf_counter()
            kb.search(q, mode=mode)
            times.append((time.perf_counter() - s) * 1000)
        p50, p95 = np.percentile(times, [50, 95])
        print(f"1M {mode:<8} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms", flush=True)
    # Recall@10 of the IVF index against exact search over the same vectors.
    vectors = kb.embedder.encode_queries(texts[: args.n])
    approx_ids = [set(kb.index.search(v, 10)[1].tolist()) for v in vectors]
    exact = faiss.IndexFlatIP(kb.embedder.dim)
    ids: list[np.ndarray] = []
    for batch_ids, batch in kb.store.iter_vectors():
        exact.add(batch)
        ids.append(batch_ids)
    all_ids = np.concatenate(ids)
    faiss.omp_set_num_threads(2)
    _, found = exact.search(np.ascontiguousarray(vectors), 10)
    faiss.omp_set_num_threads(1)
    recall = np.mean([len(a & set(all_ids[f].tolist())) / 10 for a, f in zip(approx_ids, found,
                                                                             strict=True)])
    print(f"IVF recall@10 vs exact on {len(vectors)} JaQuAD queries: {recall:.3f}; peak RSS "
          f"{peak_rss_mb():.0f} MB (includes the exact index built only for this check)")


if __name__ == "__main__":
    main()
