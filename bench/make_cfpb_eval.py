"""Build a 'similar past complaints' judgment set from real CFPB complaints.

Held-out narratives are the queries; the other narratives form the ledger; a
past complaint is relevant when it has the same Product and Issue (as
../shared/data/README.md suggests). English, paraphrase-heavy: dense wins here,
unlike JaQuAD where questions reuse the paragraph's words.

    python bench/make_cfpb_eval.py OUT_DIR [--queries 300]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1].parent / "shared/data/cfpb/complaints_sample.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not SOURCE.exists():
        print(f"skip: {SOURCE} is absent", file=sys.stderr)
        return 2
    with SOURCE.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Consumer complaint narrative"].strip()]
    random.Random(args.seed).shuffle(rows)
    queries, corpus = rows[: args.queries], rows[args.queries :]
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "corpus.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(corpus[0]))
        writer.writeheader()
        writer.writerows(corpus)
    by_label: dict[tuple[str, str], list[str]] = {}
    for row in corpus:
        by_label.setdefault((row["Product"], row["Issue"]), []).append(row["Complaint ID"])
    kept = 0
    with (args.out / "queries.jsonl").open("w", encoding="utf-8") as q, \
            (args.out / "qrels.tsv").open("w", encoding="utf-8") as r:
        r.write("query-id\tcorpus-id\tscore\n")
        for row in queries:
            relevant = by_label.get((row["Product"], row["Issue"]), [])
            if not relevant:
                continue
            kept += 1
            q.write(json.dumps({"_id": row["Complaint ID"],
                                "text": row["Consumer complaint narrative"]}) + "\n")
            r.writelines(f"{row['Complaint ID']}\t{doc}\t1\n" for doc in relevant)
    print(f"{len(corpus)} corpus rows, {kept} judged queries -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
