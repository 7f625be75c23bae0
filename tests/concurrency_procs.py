"""The two processes of the concurrency test (run as `python -m tests.concurrency_procs`).

writer ROOT OUT LEDGER...: ingests the ledgers one by one; after each, still holding
    the writer lock (so nothing else can change), it records the state version and
    the results every probe query gets in it: what a reader must see at that version.
reader ROOT OUT MIN DONE_FLAG: one long-lived KnowledgeBase (like the app), searching
    in a loop until it has done MIN searches and DONE_FLAG exists; one JSON line per
    search with the state version it saw, or the exception it raised.
"""

from __future__ import annotations

import itertools
import json
import sys
import traceback
from pathlib import Path

from kb import KnowledgeBase

MARKERS = ("北極", "火山", "銀河", "珊瑚", "砂漠")
PROBES = [(q, mode) for q in ("荷物が届かない", "返金してほしい", *MARKERS)
          for mode in ("hybrid", "dense", "lexical")]


def run_probes(base: KnowledgeBase) -> tuple[int, dict[str, list]]:
    out = {}
    version = 0
    for query, mode in PROBES:
        result = base.search(query, top_k=5, mode=mode, passages=0)
        version = result.state_version
        out[f"{mode}:{query}"] = [[h.case.id, round(h.score, 4)] for h in result.hits]
    return version, out


def writer(root: str, out: str, ledgers: list[str]) -> None:
    with KnowledgeBase.open(root) as base, open(out, "w", encoding="utf-8") as handle:
        for ledger in [None, *ledgers]:
            with base.writer():  # the ingest and the probes see one state
                if ledger:
                    base.ingest_ledger(ledger)
                version, results = run_probes(base)
            handle.write(json.dumps({"version": version, "results": results}, ensure_ascii=False)
                         + "\n")
            handle.flush()


def reader(root: str, out: str, minimum: int, done_flag: str) -> None:
    with KnowledgeBase.open(root, create=False) as base, \
            open(out, "w", encoding="utf-8") as handle:
        for n in itertools.count():
            if n >= minimum and Path(done_flag).exists():
                break
            query, mode = PROBES[n % len(PROBES)]
            try:
                result = base.search(query, top_k=5, mode=mode, passages=0)
                record = {"key": f"{mode}:{query}", "version": result.state_version,
                          "hits": [[h.case.id, round(h.score, 4)] for h in result.hits]}
            except Exception:
                record = {"key": f"{mode}:{query}", "error": traceback.format_exc()}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "writer":
        writer(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        reader(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
