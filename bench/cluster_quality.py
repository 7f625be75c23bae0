"""Cluster quality against human labels: our clustering beside a TF-IDF + KMeans baseline.

Ingests each labelled ledger into its own knowledge base under --workdir (reused on later
runs), then compares, by NMI and ARI against the label column:

- baseline: TF-IDF + KMeans with k = number of labels (the number a human would have to
  know in advance), over our Sudachi tokens and, for English, over scikit-learn's own words;
- ours (`kb clusters`): embeddings + TF-IDF, kNN graph, Louvain picks k, spectral partition;
- ours with k = number of labels, to compare like with like;
- ablations: the embedding alone with KMeans, and HDBSCAN on PCA-reduced embeddings.

Every randomised method runs with --seeds seeds; the table shows mean [min-max].

    python bench/cluster_quality.py                 # CFPB (Product) and the sample ledger
    python bench/cluster_quality.py --jaquad        # + JaQuAD paragraphs / questions by article
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb import Filters, KnowledgeBase
from kb.clusters.method import features, partition
from kb.storage.selection import Selection, load_selection

SHARED = ROOT.parent / "shared" / "data"


def ensure_kb(workdir: Path, name: str, ledger: Path, skip_invalid: bool = False) -> Path:
    """A knowledge base holding `ledger`, built once (ingest embeds every case: minutes)."""
    directory = workdir / name
    if (directory / "kb.sqlite3").exists():
        with KnowledgeBase.open(directory) as kb:
            if kb.stats().cases:
                return directory
    # Ingest a copy, so that NAME.rejected.csv lands in workdir, not beside the shared data.
    copy = workdir / f"{name}{ledger.suffix}"
    if ledger.resolve() != copy.resolve():
        shutil.copy(ledger, copy)
    started = time.perf_counter()
    with KnowledgeBase.open(directory) as kb:
        report = kb.ingest_ledger(copy, skip_invalid=skip_invalid)
    print(f"  ingested {name}: {report.new} cases ({report.rejected} rejected rows) in "
          f"{time.perf_counter() - started:.0f} s")
    return directory


def jaquad_ledgers(workdir: Path, questions: int = 2000) -> tuple[Path, Path]:
    """JaQuAD as two labelled Japanese ledgers: paragraphs and questions, label = article."""
    source = SHARED / "jaquad_dev"
    corpus = [json.loads(line) for line in (source / "corpus.jsonl").open(encoding="utf-8")]
    title = {doc["_id"]: doc["title"] for doc in corpus}
    paragraphs = workdir / "jaquad_paragraphs.csv"
    with paragraphs.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "content", "category"])
        writer.writerows([doc["_id"], doc["text"], doc["title"]] for doc in corpus)
    answer = {}
    with (source / "qrels.tsv").open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            query_id, doc_id, _ = line.rstrip("\n").split("\t")
            answer[query_id] = doc_id
    asked = [json.loads(line) for line in (source / "queries.jsonl").open(encoding="utf-8")]
    asked = sorted((q for q in asked if q["_id"] in answer), key=lambda q: q["_id"])
    random.Random(0).shuffle(asked)
    questions_csv = workdir / "jaquad_questions.csv"
    with questions_csv.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "content", "category"])
        writer.writerows([q["_id"], q["text"], title[answer[q["_id"]]]] for q in asked[:questions])
    return paragraphs, questions_csv


def labels_of(directory: Path, selection: Selection, field: str) -> list[str]:
    with KnowledgeBase.open(directory) as kb:
        cases = {r.id: kb.get_case(r.id) for r in selection.rows}
    return [getattr(cases[r.id], field) for r in selection.rows]


def score(truth: Sequence[str], runs: list[np.ndarray]) -> str:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    nmi = [normalized_mutual_info_score(truth, r) for r in runs]
    ari = [adjusted_rand_score(truth, r) for r in runs]
    k = sorted({len(set(r.tolist())) for r in runs})
    ks = str(k[0]) if len(k) == 1 else f"{k[0]}-{k[-1]}"
    return (f"{np.mean(nmi):.3f} [{min(nmi):.3f}-{max(nmi):.3f}] | "
            f"{np.mean(ari):.3f} [{min(ari):.3f}-{max(ari):.3f}] | {ks}")


def evaluate(name: str, directory: Path, field: str, seeds: int, english: bool) -> None:
    from sklearn.cluster import HDBSCAN, KMeans
    from sklearn.decomposition import PCA
    from sklearn.feature_extraction.text import TfidfVectorizer

    selection = load_selection(directory / "kb.sqlite3", Filters())
    truth = labels_of(directory, selection, field)
    k = len(set(truth))
    print(f"\n### {name}: {len(truth)} cases, label `{field}` with {k} values\n")
    print("| method | NMI mean [min-max] | ARI mean [min-max] | clusters | seconds/run |")
    print("|---|---|---|---|---|")

    def row(label: str, run: Callable[[int], np.ndarray]) -> None:
        started = time.perf_counter()
        runs = [run(seed) for seed in range(seeds)]
        took = (time.perf_counter() - started) / seeds
        print(f"| {label} | {score(truth, runs)} | {took:.1f} |", flush=True)

    tfidf = TfidfVectorizer(analyzer=lambda d: d, min_df=2, sublinear_tf=True)
    ours_tokens = tfidf.fit_transform(selection.tokens)
    row(f"TF-IDF (Sudachi tokens) + KMeans, k={k}",
        lambda s: KMeans(k, n_init=10, random_state=s).fit_predict(ours_tokens))
    if english:
        texts = [f"{r.title}\n{r.content}" for r in selection.rows]
        raw = TfidfVectorizer().fit_transform(texts)
        row(f"TF-IDF (scikit-learn words) + KMeans, k={k}",
            lambda s: KMeans(k, n_init=10, random_state=s).fit_predict(raw))
    vectors, tokens = selection.vectors, selection.tokens
    row("**ours: embedding + TF-IDF graph, k chosen by Louvain**",
        lambda s: partition(vectors, tokens, seed=s).labels)
    row(f"ours with k={k}", lambda s: partition(vectors, tokens, n_clusters=k, seed=s).labels)
    row(f"ours, Louvain communities as the partition (as above {20_000:,} cases)",
        lambda s: _louvain_only(vectors, tokens, s))
    row(f"embedding only + KMeans, k={k}",
        lambda s: KMeans(k, n_init=10, random_state=s).fit_predict(vectors))
    reduced = PCA(50, random_state=0).fit_transform(vectors)
    labels = HDBSCAN(min_cluster_size=5, copy=True).fit_predict(reduced)
    noise = float(np.mean(labels == -1))
    print(f"| HDBSCAN (min_cluster_size=5) on PCA-50 embeddings; noise ({noise:.0%} of cases) "
          f"as one more group | {score(truth, [labels])} | - |")


def _louvain_only(vectors: np.ndarray, tokens: list[list[str]], seed: int) -> np.ndarray:
    from kb.clusters.method import knn_graph, louvain

    return louvain(knn_graph(features(vectors, tokens, seed=seed), 10, seed), seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cfpb", type=Path, default=SHARED / "cfpb" / "complaints_sample.csv")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kb-cluster-bench"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jaquad", action="store_true", help="also JaQuAD (ingest takes minutes)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"knowledge bases under {args.workdir}")
    if args.cfpb.exists():
        cfpb = ensure_kb(args.workdir, "cfpb", args.cfpb, skip_invalid=True)
        evaluate("CFPB complaints with a narrative (English)", cfpb, "product", args.seeds, True)
    else:
        print(f"skip CFPB: {args.cfpb} is absent")
    sample = ensure_kb(args.workdir, "sample", ROOT / "data" / "sample_complaints.csv")
    evaluate("Sample ledger (Japanese, 11 English cases)", sample, "category", args.seeds, False)
    evaluate("Sample ledger (Japanese, 11 English cases)", sample, "product", args.seeds, False)
    if args.jaquad and (SHARED / "jaquad_dev").exists():
        paragraphs, questions = jaquad_ledgers(args.workdir)
        evaluate("JaQuAD paragraphs (Japanese Wikipedia)",
                 ensure_kb(args.workdir, "jaquad_paragraphs", paragraphs), "category", args.seeds,
                 False)
        evaluate("JaQuAD questions (short Japanese questions)",
                 ensure_kb(args.workdir, "jaquad_questions", questions), "category", args.seeds,
                 False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
