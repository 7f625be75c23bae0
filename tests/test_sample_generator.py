"""data/generate_sample.py stays small and still writes data/sample_complaints.csv byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SCRIPT = DATA / "generate_sample.py"
SAMPLE = DATA / "sample_complaints.csv"
MAX_LINES = 600


def test_generator_reproduces_the_committed_ledger(tmp_path: Path) -> None:
    """The JSON phrase tables and the script together rebuild the committed CSV exactly."""
    out = tmp_path / "sample_complaints.csv"
    before = SAMPLE.stat().st_mtime_ns
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.read_bytes() == SAMPLE.read_bytes()
    assert SAMPLE.stat().st_mtime_ns == before  # --out left the repository file alone
    lines = result.stdout.splitlines()
    assert lines[0] == f"wrote 360 rows to {out}"
    tags = [line.split(" (", 1)[0] for line in lines[1:]]
    assert tags == ["A-after", "A-before", "A-measure", "B-after", "B-before", "B-measure",
                    "C-before", "C-measure", "D"]  # fmt: skip


def test_generator_code_stays_small() -> None:
    """Phrases belong in data/sample_phrases/*.json, so no Python file under data/ grows past the limit."""
    scripts = sorted(DATA.rglob("*.py"))
    assert SCRIPT in scripts
    for path in scripts:
        count = len(path.read_text(encoding="utf-8").splitlines())
        assert count < MAX_LINES, f"{path.relative_to(ROOT)} has {count} lines"
