"""Build a knowledge base of N cases and print ingest throughput against the raw embedder.

    python bench/scale_build.py --cases 100000 --dir /tmp/kb-scale/100k

Cases come from bench/scale_data.py (JaQuAD paragraphs + varied synthetic cases from real
text). In the same run, before the ingest, the raw embedder throughput is measured on the
complaint chunks of the first `--raw` synthetic cases (same batch size as ingest), so the
ratio compares like with like. Prints cases/s, the ratio, peak RSS and bytes on disk.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale_data import scale_cases

from kb import KnowledgeBase
from kb.settings import EMBED_BATCH
from kb.write import cases as case_ingest
from kb.write.cases import case_chunks


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def raw_throughput(kb: KnowledgeBase, total: int, n: int) -> tuple[float, float]:
    """(cases/s, chunks/s) of embedding alone, on every (total/n)-th case of the ingest mix."""
    cases = list(islice(scale_cases(total), 0, None, max(1, total // n)))
    texts = [t for c in cases for part, t in case_chunks(c) if part == "complaint"]
    kb.embedder.encode_documents(texts[:EMBED_BATCH])  # warm-up
    started = time.perf_counter()
    for s in range(0, len(texts), EMBED_BATCH):
        kb.embedder.encode_documents(texts[s : s + EMBED_BATCH])
    took = time.perf_counter() - started
    return n / took, len(texts) / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--raw", type=int, default=2000, help="cases for the raw embedder figure")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    kb = KnowledgeBase.open(args.dir)
    raw_cases, raw_chunks = raw_throughput(kb, args.cases, args.raw)
    print(f"raw embedder ({kb.embedder.name}), before ingest: {raw_cases:.1f} cases/s "
          f"({raw_chunks:.1f} chunks/s) on a stride sample of {args.raw} cases", flush=True)

    def progress(done: int, total: int, stage: str) -> None:
        if stage == "store" and (done % 10240 < 1024 or done == total):
            print(f"  {done:>9,} cases stored ({time.perf_counter() - started:.0f} s)",
                  flush=True)

    started = time.perf_counter()
    report = kb.ingest_cases(islice(scale_cases(args.cases), args.cases), progress=progress)
    took = time.perf_counter() - started
    stats = kb.stats()
    rate = args.cases / took
    print(f"ingest: {args.cases:,} cases ({stats.chunks:,} chunks, {report.embedded:,} embedded) "
          f"in {took:.0f} s = {rate:.1f} cases/s; ratio to raw embedder {rate / raw_cases:.2f}")
    busy, piped = case_ingest.last_writes.embed_seconds, case_ingest.last_writes.seconds
    print(f"  pipeline (read, chunk, embed, tokenise, write) {piped:.0f} s = "
          f"{args.cases / piped:.1f} cases/s; embedder busy {busy:.0f} s of it: in-run ratio "
          f"{busy / piped:.2f}; after it, FAISS + calibration {took - piped:.0f} s")
    print(f"  (includes FAISS index build and fusion calibration; dense prior "
          f"{stats.fusion_dense_prior}; index {type(kb.index.index).__name__})")
    after, _ = raw_throughput(kb, args.cases, args.raw)
    mean = (raw_cases + after) / 2
    print(f"raw embedder after ingest: {after:.1f} cases/s; ingest / mean(before, after) = "
          f"{rate / mean:.2f} (the machine is shared: the two raw figures bound the noise)")
    kb.close()
    print(f"peak RSS {peak_rss_mb():.0f} MB; on disk {disk_bytes(args.dir) / 1e6:.0f} MB "
          f"({args.dir})")


if __name__ == "__main__":
    main()
