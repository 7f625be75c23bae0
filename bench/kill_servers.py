"""SIGKILL ingests into postgres+milvus at random moments; count bases `kb check` leaves inconsistent.

    python bench/kill_servers.py [--kills 100] [--seed 14] [--model hashing-test]

The suite kills 8 writers (tests/test_scale_backends.py); this runs the issue's 100. The
sample ledger (360 cases) is ledger A; ledger B changes the complaint of 50 of them and
adds 20 new ones. Each round starts a `kb ingest` of B over A (or A over B) in a child
process on PostgreSQL + Milvus servers of its own (tests/servers.py), SIGKILLs it at a
uniformly random moment between 0.2 s and the time an unkilled ingest takes (start-up,
reading, embedding, the PostgreSQL transaction, the Milvus apply), then runs `kb check`
(repairing) and asserts: PostgreSQL and Milvus agree (check again without repair), the
base holds exactly A's or B's version of the 50 cases, all 20 new ones or none, and a
lexical search finds exactly the marked cases (Milvus holds what PostgreSQL holds).
The embedder defaults to the deterministic fake: consistency does not depend on the model,
and a fast one puts more kills inside the transaction and the apply.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb import KnowledgeBase, check_base
from tests.servers import new_database, running_milvus, running_postgres

SAMPLE = ROOT / "data" / "sample_complaints.csv"
MARK = "ZQXJQZ"  # one token found in no sample text
CHANGED, NEW = 50, 20


def write_ledgers(tmp: Path) -> tuple[dict[str, Path], list[str], list[str]]:
    """Ledger A (the sample) and B (50 complaints marked, 20 new marked cases)."""
    with SAMPLE.open(encoding="utf-8-sig", newline="") as f:
        header, *rows = list(csv.reader(f))
    changed = [r[0] for r in rows[:CHANGED]]
    content = header.index("クレーム内容")
    marked = [[*r[:content], r[content] + f"{MARK}として再度申し出た。", *r[content + 1:]]
              for r in rows[:CHANGED]]
    new = [[f"Z-{n:04d}", *r[1:content], f"{MARK}の新しい苦情 {n}。{r[content]}", *r[content + 1:]]
           for n, r in enumerate(rows[CHANGED : CHANGED + NEW])]
    ledgers = {"a": tmp / "a.csv", "b": tmp / "b.csv"}
    for name, body in (("a", rows), ("b", marked + rows[CHANGED:] + new)):
        with ledgers[name].open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([header, *body])
    return ledgers, changed, [r[0] for r in new]


def ingest_child(base: Path, ledger: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kb", "--index", str(base), "ingest",
                             str(ledger)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def state_of(base: Path, changed: list[str], new: list[str]) -> str:
    """'a', 'b' or 'a+new' (A over B keeps B's new cases); raises if it is none of these."""
    with KnowledgeBase.open(base) as kb:
        marked = {c for c in changed if MARK in kb.get_case(c).content}
        added = {c for c in new if kb.get_case(c) is not None}
        hits = {h.case.id for h in kb.search(MARK, top_k=200, mode="lexical", passages=0).hits}
        cases = kb.stats().cases
    assert marked in (set(), set(changed)), f"{len(marked)} of {CHANGED} changed cases marked"
    assert added in (set(), set(new)), f"{len(added)} of {NEW} new cases present"
    assert hits == marked | added, f"lexical search finds {len(hits)}, PostgreSQL holds " \
                                   f"{len(marked | added)}"
    assert cases == 360 + len(added), cases
    return "b" if marked else ("a+new" if added else "a")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--model", default="hashing-test")
    args = parser.parse_args()
    os.environ["KB_EMBEDDING_MODEL"] = args.model
    rng, outcomes, bad = random.Random(args.seed), Counter(), []
    with running_postgres() as admin, running_milvus() as uri, \
            tempfile.TemporaryDirectory() as tmp:
        os.environ.update(KB_BACKEND="postgres+milvus", KB_POSTGRES_URL=new_database(admin),
                          KB_MILVUS_URI=uri)
        ledgers, changed, new = write_ledgers(Path(tmp))
        base = Path(tmp) / "kb"
        timings = []
        for ledger in ("a", "b", "a"):  # unkilled: the base, and how long an ingest takes
            started = time.perf_counter()
            assert ingest_child(base, ledgers[ledger]).wait(timeout=600) == 0
            timings.append(time.perf_counter() - started)
        full, previous = max(timings[1:]), "a+new"
        print(f"unkilled ingest B over A / A over B: {timings[1]:.1f} s / {timings[2]:.1f} s; "
              f"kills at uniform(0.2, {full:.1f}) s", flush=True)
        for n in range(args.kills):
            target = "b" if n % 2 == 0 else "a"
            child, at = ingest_child(base, ledgers[target]), rng.uniform(0.2, full)
            time.sleep(at)
            finished = child.poll() is not None
            child.kill()
            child.wait(timeout=60)
            try:
                report = check_base(base, repair=True)
                assert report.consistent, report.to_dict()
                assert check_base(base, repair=False).consistent, "inconsistent after repair"
                state = state_of(base, changed, new)
            except AssertionError as exc:
                bad.append((n, at, str(exc)))
                print(f"  kill {n + 1}: INCONSISTENT at {at:.2f} s: {exc}", flush=True)
                continue
            after = "b" if target == "b" else ("a" if previous == "a" else "a+new")
            if state not in (previous, after):
                bad.append((n, at, f"state {state}: neither before ({previous}) nor after"))
                continue
            landed = "finished before the kill" if finished else (
                "committed" if state == after else "rolled back")
            outcomes[landed] += 1
            previous = state
            if (n + 1) % 10 == 0:
                print(f"  {n + 1} kills: {dict(outcomes)}", flush=True)
    print(f"\n{args.kills} SIGKILLs during ingest into postgres+milvus: {len(bad)} inconsistent "
          f"bases after kb check; outcomes {dict(outcomes)}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
