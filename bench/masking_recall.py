"""Masking recall on planted personal data and masks on the sample ledger (README figures).

    .venv/bin/python bench/masking_recall.py

Planted: the values of tests/test_masking.py and tests/test_masking_gaps.py, each inside a
sentence; recall = share masked. On the sample ledger (360 fictional cases that contain no
personal data but for a few planted contacts), every mask is printed so false positives can
be read off by eye, with counts per kind.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.masking import mask_text
from tests import test_masking, test_masking_gaps


def main() -> None:
    gaps = test_masking_gaps
    planted = (test_masking.PHONES + test_masking.EMAILS + gaps.PHONES + gaps.CARDS + gaps.POSTAL
               + gaps.EMAILS + gaps.NAMES)
    missed = [v for v in planted if not mask_text(f"お客様の連絡先は {v} です。")[1]]
    print(f"planted: {len(planted) - len(missed)}/{len(planted)} masked; missed: {missed}")
    kept = [t for t in gaps.SURVIVE if mask_text(t)[1]]
    print(f"figures and role words that must survive: {len(gaps.SURVIVE) - len(kept)}/"
          f"{len(gaps.SURVIVE)} kept; masked by mistake: {kept}")
    counts: Counter[str] = Counter()
    cells = 0
    with (ROOT / "data" / "sample_complaints.csv").open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            for value in row.values():
                cells += 1
                masked, found = mask_text(value or "")
                if found:
                    counts.update(found)
                    print(f"  sample: {value[:80]!r} -> {masked[:80]!r}")
    print(f"sample ledger: {cells} cells, masks {dict(counts)}")


if __name__ == "__main__":
    main()
