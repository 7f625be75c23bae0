"""Speed of the embedding models: ingest (one process and all cores), search latency, RSS.

    python bench/models.py                         # both models, one run each
    python bench/models.py --model multilingual-e5-small --queries 200

For each model, in one run: ingest cases/s of the sample ledger (360 cases) and of 500
JaQuAD paragraphs: one process on one thread, one process with the model's own threads on
every core (KB_EMBED_WORKERS=1: what a small ingest does; sample only), and one encoder
process per core (the default for a large ingest); wall time and CPU time (this process and
its workers) each; then the rest of the 1,431 JaQuAD paragraphs go into the last base, on
which the warm single-query latency of `kb.search` (hybrid, query embedding included;
p50/p95) and the batch rate of `search_many` are measured with the JaQuAD queries. Peak RSS
of this process and of the largest encoder worker. The ingest rate is write_cases' own time
(chunk, embed, tokenise, store); the whole `ingest_ledger`, calibration included, beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale_data import JAQUAD, jaquad_cases

from kb import KnowledgeBase
from kb.embeddings import E5_MODEL, USE_MODEL, cores
from kb.search.evaluate import load_queries
from kb.write import cases as case_ingest
from kb.write.sample import SAMPLE_LEDGER


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _cpu() -> float:
    mine, workers = os.times(), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.user + mine.system + workers.ru_utime + workers.ru_stime


def _ingest(model: str, root: Path, workers: int, threads: int | None,
            source: Path | list, fresh: bool = True) -> tuple[int, float, float, float]:
    """(cases, write seconds, whole-ingest seconds, CPU seconds) of one ingest (a new base)."""
    if fresh:
        shutil.rmtree(root, ignore_errors=True)
    os.environ["KB_EMBED_WORKERS"] = str(workers)
    with KnowledgeBase.open(root, model=model) as kb:
        default = kb.embedder.threads
        kb.embedder.threads = threads or default
        try:
            ingest = kb.ingest_ledger if isinstance(source, Path) else kb.ingest_cases
            started, cpu = time.perf_counter(), _cpu()
            report = ingest(source)
            whole, cpu = time.perf_counter() - started, _cpu() - cpu
        finally:
            kb.embedder.threads = default
            os.environ.pop("KB_EMBED_WORKERS", None)
    writes = case_ingest.last_writes
    assert writes is not None and report.new == writes.new
    return report.new, writes.seconds, whole, cpu


WAYS = {"1 process, 1 thread": (1, 1), "1 process, all threads": (1, None),
        "1 process per core": (cores(), None)}


def ingest_rates(model: str, tmp: Path, name: str, source: Path | list,
                 ways: tuple[str, ...] = tuple(WAYS)) -> Path:
    """Ingest `source` each way into a new base; the last way's base is kept and returned."""
    rates = {}
    for way in ways:
        workers, threads = WAYS[way]
        root = tmp / f"{name.replace(' ', '-')}-{workers}-{threads}"
        n, seconds, whole, cpu = _ingest(model, root, workers, threads, source)
        rates[way] = n / seconds
        print(f"  ingest {name:<17} {way:<22}: {n / seconds:6.1f} cases/s ({n} cases, write "
              f"{seconds:.1f} s; whole ingest {whole:.1f} s, {cpu:.1f} CPU s)", flush=True)
    base = rates["1 process, 1 thread"]
    print(f"  ingest {name:<17} speed-up over 1 process, 1 thread: "
          + ", ".join(f"{way} {rate / base:.2f}x" for way, rate in list(rates.items())[1:]),
          flush=True)
    return root


def search_speed(model: str, root: Path, done: int, n_queries: int, n_batch: int) -> None:
    """On the base of the first `done` paragraphs: add the rest (all 1,431), then search."""
    if done < len(jaquad_cases()):
        n, seconds, _, _ = _ingest(model, root, cores(), None, jaquad_cases()[done:], fresh=False)
        print(f"  the other {n} JaQuAD paragraphs added in {seconds:.1f} s ({n / seconds:.1f} "
              f"cases/s, 1 process per core)")
    queries = [q.text for q in load_queries(JAQUAD / "queries.jsonl")]
    with KnowledgeBase.open(root, create=False) as kb:
        for q in queries[:20]:  # warm-up
            kb.search(q)
        times, cpu = [], []
        for q in queries[20 : 20 + n_queries]:
            started, used = time.perf_counter(), time.process_time()
            kb.search(q)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - used) * 1000)
        batch = queries[: n_batch]
        started, used = time.perf_counter(), time.process_time()
        kb.search_many(batch)
        took, used = time.perf_counter() - started, time.process_time() - used
    p95 = statistics.quantiles(times, n=20)[-1]
    print(f"  kb.search hybrid, single query ({len(times)}): p50 {statistics.median(times):.1f} ms, "
          f"p95 {p95:.1f} ms (CPU p50 {statistics.median(cpu):.1f} ms)")
    print(f"  search_many ({len(batch)} queries): {len(batch) / took:.1f} queries/s "
          f"({len(batch) / used:.1f} per CPU second)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", help="default: both models")
    parser.add_argument("--queries", type=int, default=200, help="single queries timed")
    parser.add_argument("--batch", type=int, default=500, help="queries for search_many")
    parser.add_argument("--paragraphs", type=int, default=500)
    parser.add_argument("--search-only", type=Path, metavar="DIR",
                        help="only the search figures, on a copy of this 1,431-paragraph base")
    parser.add_argument("--sample-only", action="store_true",
                        help="only the three ingest rates of the sample ledger")
    args = parser.parse_args()
    if args.search_only:
        with tempfile.TemporaryDirectory(prefix="kb-bench-models-") as tmp:
            root = shutil.copytree(args.search_only, Path(tmp) / "kb")
            with KnowledgeBase.open(root, create=False) as kb:
                model = kb.embedder.name
            print(f"== {model}: search on a copy of {args.search_only}", flush=True)
            search_speed(model, root, len(jaquad_cases()), args.queries, args.batch)
        print(f"  peak RSS: {_rss_mb(resource.RUSAGE_SELF):.0f} MB")
        return
    models = args.model or [E5_MODEL, USE_MODEL]
    if len(models) > 1:  # one process per model: its peak RSS is its own
        import subprocess

        for model in models:
            subprocess.run([sys.executable, __file__, "--model", model, "--queries",
                            str(args.queries), "--batch", str(args.batch), "--paragraphs",
                            str(args.paragraphs), *(["--sample-only"] if args.sample_only else [])],
                           check=True)
        return
    model = models[0]
    print(f"== {model} on {platform.machine()} {platform.processor() or ''}, {cores()} cores, "
          f"Python {platform.python_version()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="kb-bench-models-") as tmp:
        ingest_rates(model, Path(tmp), "sample ledger", SAMPLE_LEDGER)
        if args.sample_only:
            return
        root = ingest_rates(model, Path(tmp), "JaQuAD paragraphs",
                            jaquad_cases()[: args.paragraphs],
                            ("1 process, 1 thread", "1 process per core"))
        search_speed(model, root, args.paragraphs, args.queries, args.batch)
    print(f"  peak RSS: this process {_rss_mb(resource.RUSAGE_SELF):.0f} MB, largest encoder "
          f"worker {_rss_mb(resource.RUSAGE_CHILDREN):.0f} MB", flush=True)


if __name__ == "__main__":
    main()
