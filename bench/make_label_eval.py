"""Build a 'similar past complaints' judgment set from any labelled ledger.

Held-out cases are the queries (their complaint text); the other cases form the
ledger; a past case is relevant when it has the same product and category. For
the real CFPB complaints these are `Product` and `Issue` (as
../shared/data/README.md suggests); for the demo ledger 商品 and 分類.
`--label category` or `--label product` judge by one field only (the split, and so the
corpus, is the same for one seed): a check that a fusion tuned on one label definition
holds on another.

    python bench/make_label_eval.py LEDGER OUT_DIR [--queries 300] [--label product+category]
    -> OUT_DIR/corpus.jsonl, queries.jsonl, qrels.tsv
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest import read_ledger
from ingest.records import Case

LABELS = {"product+category": lambda c: (c.product, c.category),
          "category": lambda c: (c.category,), "product": lambda c: (c.product,)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ledger", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--label", choices=tuple(LABELS), default="product+category")
    args = parser.parse_args()
    if not args.ledger.exists():
        print(f"skip: {args.ledger} is absent")
        return 2
    cases = read_ledger(args.ledger).cases  # rows without complaint text are left out
    random.Random(args.seed).shuffle(cases)
    queries, corpus = cases[: args.queries], cases[args.queries :]
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for case in corpus:
            record = {k: v for k, v in dataclasses.asdict(case).items()
                      if k not in ("metadata", "source") and v not in ("", None)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    label: Callable[[Case], tuple[str, ...]] = LABELS[args.label]
    by_label: dict[tuple[str, ...], list[str]] = {}
    for case in corpus:
        by_label.setdefault(label(case), []).append(case.id)
    kept = 0
    with (args.out / "queries.jsonl").open("w", encoding="utf-8") as q, \
            (args.out / "qrels.tsv").open("w", encoding="utf-8") as r:
        r.write("query-id\tcorpus-id\tscore\n")
        for case in queries:
            relevant = by_label.get(label(case), [])
            if not relevant:
                continue
            kept += 1
            q.write(json.dumps({"_id": case.id, "text": case.content}, ensure_ascii=False) + "\n")
            r.writelines(f"{case.id}\t{doc}\t1\n" for doc in relevant)
    print(f"{len(corpus)} corpus cases, {kept} judged queries -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
