#!/usr/bin/env bash
# Retrieval quality per model x dev set x search mode, the fusion study and the confidence
# study, on four judgment sets:
#   jaquad  - JaQuAD dev (ja Wikipedia QA; questions reuse the paragraph's words: lexical-friendly)
#   jsts    - JGLUE JSTS train paraphrase pairs (ja; dense-friendly; 11,804 short sentences)
#   cfpb    - real CFPB complaints (en); relevant = same Product and Issue (paraphrase-heavy)
#   sample  - the demo ledger (ja); relevant = same 商品 and 分類
# Usage: bash bench/quality.sh [OUT_DIR]   (needs ../shared/data; prints tables)
#   MODELS="use-multilingual-v3 multilingual-e5-small"  SETS="jaquad jsts cfpb sample"
#   KEEP=1: reuse the bases already built in OUT_DIR (build only the missing ones)
#   STAGES="build eval fusion confidence cross": which parts to run
#   ("cross": the fusion study of cfpb and sample judged by one label only, category or
#   product, on the same bases: does a calibration tuned on labels hold on other labels?)
# Bases live in OUT_DIR/<model>/<set>; candidate pools are cached beside them
# (OUT_DIR/<model>/<set>.pools.pkl) so the fusion and confidence studies score the same pools;
# the fusion study's figures go to OUT_DIR/<model>/<set>.fusion.json (bench/quality_table.py
# turns them into the BENCHMARKS.md tables).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=${1:-/tmp/kb-quality}
KB=${KB:-.venv/bin/kb}
PY=${PY:-.venv/bin/python}
MODELS=${MODELS:-"use-multilingual-v3 multilingual-e5-small"}
SETS=${SETS:-"jaquad jsts cfpb sample"}
STAGES=${STAGES:-"build eval fusion confidence cross"}
[ "${KEEP:-0}" = 1 ] || rm -rf "$OUT"
mkdir -p "$OUT"
echo "## machine: $(nproc) cores, $(python3 --version), $(date -u '+%F %H:%M UTC')"
has() { [[ " $STAGES " == *" $1 "* ]]; }

[ -f "$OUT/cfpb_eval/qrels.tsv" ] ||
  $PY bench/make_label_eval.py "$DATA/cfpb/complaints_sample.csv" "$OUT/cfpb_eval" --queries 300
[ -f "$OUT/sample_eval/qrels.tsv" ] ||
  $PY bench/make_label_eval.py data/sample_complaints.csv "$OUT/sample_eval" --queries 80
for label in category product; do  # same seed, same split: the same corpus, other judgments
  [ -f "$OUT/cfpb_eval_$label/qrels.tsv" ] || $PY bench/make_label_eval.py \
    "$DATA/cfpb/complaints_sample.csv" "$OUT/cfpb_eval_$label" --queries 300 --label $label
  [ -f "$OUT/sample_eval_$label/qrels.tsv" ] || $PY bench/make_label_eval.py \
    data/sample_complaints.csv "$OUT/sample_eval_$label" --queries 80 --label $label
done

judgments() {  # set -> "queries qrels"
  case $1 in
    jaquad) echo "$DATA/jaquad_dev/queries.jsonl $DATA/jaquad_dev/qrels.tsv" ;;
    jsts) echo "$DATA/jsts_train_paraphrase/queries.jsonl $DATA/jsts_train_paraphrase/qrels.tsv" ;;
    *) echo "$OUT/${1}_eval/queries.jsonl $OUT/${1}_eval/qrels.tsv" ;;
  esac
}

build() {  # model set
  local base="$OUT/$1/$2"
  [ -f "$base/.built" ] && return 0
  rm -rf "$base"
  local start=$SECONDS
  case $2 in
    jaquad) $KB --index "$base" --model "$1" ingest "$DATA/jaquad_dev/corpus.jsonl" \
              --map id=_id --map title=title --map content=text | tail -1 ;;
    jsts) $KB --index "$base" --model "$1" ingest "$DATA/jsts_train_paraphrase/corpus.jsonl" \
            --map id=_id --map content=text | tail -1 ;;
    *) $KB --index "$base" --model "$1" ingest "$OUT/${2}_eval/corpus.jsonl" | tail -1 ;;
  esac
  echo "built $1/$2 in $((SECONDS - start)) s"
  touch "$base/.built"
}

for model in $MODELS; do
  for set in $SETS; do
    has build && build "$model" "$set"
    read -r q r <<<"$(judgments "$set")"
    base="$OUT/$model/$set"
    echo; echo "### $model / $set"
    $KB --index "$base" stats --json | $PY -c 'import json,sys; s=json.load(sys.stdin); print("cases:", s["cases"], "| fusion dense prior:", s["fusion_dense_prior"], "| calibration:", s["fusion_calibration"] or "none")'
    if has eval; then echo "#### kb eval"; $KB --index "$base" eval --queries "$q" --qrels "$r"; fi
    if has fusion; then
      echo "#### fusion study (same candidates)"
      $PY bench/fusion_study.py --index "$base" --queries "$q" --qrels "$r" \
          --pools "$OUT/$model/$set.pools.pkl" --json "$OUT/$model/$set.fusion.json"
    fi
    if has confidence; then
      echo "#### confidence study"
      $PY bench/confidence_study.py --index "$base" --queries "$q" --qrels "$r"
    fi
    if has cross && { [ "$set" = cfpb ] || [ "$set" = sample ]; }; then
      for label in category product; do
        echo "#### fusion study, judged by $label only"
        $PY bench/fusion_study.py --index "$base" --queries "$OUT/${set}_eval_$label/queries.jsonl" \
            --qrels "$OUT/${set}_eval_$label/qrels.tsv" --pools "$OUT/$model/$set.pools.pkl" \
            --json "$OUT/$model/${set}_$label.fusion.json"
      done
    fi
  done
done
