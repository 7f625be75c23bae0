"""Markdown tables from the fusion-study figures bench/quality.sh wrote.

    python bench/quality_table.py [OUT_DIR]    (default /tmp/kb-quality)

Reads OUT_DIR/<model>/<set>.fusion.json and prints: dense / lexical / hybrid per set and
model (hybrid = search as configured: adaptive at the base's prior), every fusion on every
set, the calibrations compared, and the label-definition cross-check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MODELS = ("use-multilingual-v3", "multilingual-e5-small")
SHORT = {"use-multilingual-v3": "USE", "multilingual-e5-small": "e5"}
SETS = ("jaquad", "jsts", "cfpb", "sample")
CROSS = ("cfpb_category", "cfpb_product", "sample_category", "sample_product")


def load(out: Path, sets: tuple[str, ...]) -> dict[tuple[str, str], dict]:
    found = {}
    for model in MODELS:
        for name in sets:
            path = out / model / f"{name}.fusion.json"
            if path.exists():
                found[model, name] = json.loads(path.read_text())
    return found


def configured(report: dict) -> str:
    return next(n for n in report["fusions"] if n.startswith("search as configured"))


def halves(runs: dict) -> None:
    print("| set | model | mode | nDCG@10 | Recall@1 | Recall@10 | nDCG@10 where halves "
          "disagree | hybrid - better half [95% CI] |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for (model, name), r in sorted(runs.items(), key=lambda kv: (SETS.index(kv[0][1]),
                                                                 MODELS.index(kv[0][0]))):
        hybrid = configured(r)
        for label, key in ((f"**hybrid** (p={r['prior']})", hybrid), ("dense", "dense"),
                           ("lexical", "lexical")):
            f = r["fusions"][key]
            m, gain = f["all"], f["vs_better_half"]
            extra = f"{gain[0]:+.4f} [{gain[1]:+.4f}, {gain[2]:+.4f}]" if key == hybrid else ""
            head = (f"{name} ({r['queries']} q, {r['disagree']} disagree)", SHORT[model]) \
                if key == hybrid else ("", "")
            print(f"| {head[0]} | {head[1]} | {label} | {m['nDCG@10']:.4f} | "
                  f"{m['Recall@1']:.4f} | {m['Recall@10']:.4f} | "
                  f"{f['disagree']['nDCG@10']:.4f} | {extra} |")


def matrix(runs: dict, sets: tuple[str, ...], prefix: tuple[str, ...] = ("",)) -> None:
    cols = [(m, s) for s in sets for m in MODELS if (m, s) in runs]
    print("| fusion | " + " | ".join(f"{s} {SHORT[m]}" for m, s in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    names = [n for n in runs[cols[0]]["fusions"] if n.startswith(prefix)
             and not n.startswith("search as configured")]
    for name in names:
        cells = []
        for col in cols:
            fusions = runs[col]["fusions"]
            key = next((k for k in fusions if k.split(" -> ")[0] == name.split(" -> ")[0]), None)
            if key is None:
                cells.append("")
                continue
            value = f"{fusions[key]['all']['nDCG@10']:.4f}"
            cells.append(f"{key.split(' -> ')[1]}: {value}" if " -> " in key else value)
        label = name.split(" -> ")[0].removeprefix("calibrated: ")
        print(f"| {label} | " + " | ".join(cells) + " |")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/kb-quality")
    runs = load(out, SETS)
    print("### Dense, lexical and hybrid (search as configured)\n")
    halves(runs)
    print("\n### Every fusion on the same candidates (nDCG@10)\n")
    matrix(runs, SETS)
    cross = load(out, CROSS)
    if cross:
        print("\n### Calibrations judged by another label definition (nDCG@10; prior: value)\n")
        both = {**{k: v for k, v in runs.items() if k[1] in ("cfpb", "sample")}, **cross}
        matrix(both, ("cfpb", *CROSS[:2], "sample", *CROSS[2:]),
               ("dense", "lexical", "calibrated:"))


if __name__ == "__main__":
    main()
