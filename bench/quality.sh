#!/usr/bin/env bash
# Retrieval quality per search mode, and the fusion study, on three judgment sets:
#   jaquad  - JaQuAD dev (ja Wikipedia QA; questions reuse the paragraph's words: lexical-friendly)
#   cfpb    - real CFPB complaints (en); relevant = same Product and Issue (paraphrase-heavy)
#   sample  - the demo ledger (ja); relevant = same 商品 and 分類
# Usage: bash bench/quality.sh [OUT_DIR]   (needs ../shared/data; prints tables)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=${1:-/tmp/kb-quality}
KB=${KB:-.venv/bin/kb}
PY=${PY:-.venv/bin/python}
rm -rf "$OUT" && mkdir -p "$OUT"
echo "## machine: $(nproc) cores, $(python3 --version), $(date -u +%F)"

$KB --index "$OUT/jaquad" ingest "$DATA/jaquad_dev/corpus.jsonl" \
    --map id=_id --map title=title --map content=text | tail -1
$PY bench/make_label_eval.py "$DATA/cfpb/complaints_sample.csv" "$OUT/cfpb_eval" --queries 300
$KB --index "$OUT/cfpb" ingest "$OUT/cfpb_eval/corpus.jsonl" | tail -1
$PY bench/make_label_eval.py data/sample_complaints.csv "$OUT/sample_eval" --queries 80
$KB --index "$OUT/sample" ingest "$OUT/sample_eval/corpus.jsonl" | tail -1

for set in jaquad cfpb sample; do
  if [ "$set" = jaquad ]; then q="$DATA/jaquad_dev/queries.jsonl"; r="$DATA/jaquad_dev/qrels.tsv"
  else q="$OUT/${set}_eval/queries.jsonl"; r="$OUT/${set}_eval/qrels.tsv"; fi
  echo; echo "### $set: kb eval"
  $KB --index "$OUT/$set" stats --json | $PY -c 'import json,sys; s=json.load(sys.stdin); print("fusion dense prior:", s["fusion_dense_prior"], "calibration:", s["fusion_calibration"] or "none")' 
  $KB --index "$OUT/$set" eval --queries "$q" --qrels "$r"
  echo; echo "### $set: fusion study (same candidates, nDCG@10)"
  $PY bench/fusion_study.py --index "$OUT/$set" --queries "$q" --qrels "$r"
done
