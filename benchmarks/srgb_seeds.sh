#!/usr/bin/env bash
# The sRGB CPU preset (`make train-srgb`) over seeds and precisions, each run scored with the paper's protocol on
# the first LIMIT images of BSD300 and Set14 (the official validation folder, ROOT).
# usage: benchmarks/srgb_seeds.sh ROOT OUT "SEEDS" "PRECISIONS" [extra train flags...]
#   e.g. benchmarks/srgb_seeds.sh /path/to/validation runs/srgb-seeds "0 1 2" "auto off"
set -euo pipefail
root=$1 out=$2 seeds=$3 precisions=$4
shift 4
n2n=${N2N:-.venv/bin/n2n-raw}
preset=$(make -s -f Makefile print-srgb-args)
mkdir -p "$out"
for amp in $precisions; do
  for seed in $seeds; do
    run="$out/amp-$amp-seed-$seed"
    # shellcheck disable=SC2086
    $n2n train --track srgb --out "$run" $preset --seed "$seed" --amp "$amp" --resume auto "$@" > "$run.log" 2>&1
    $n2n evaluate-srgb --checkpoint "$run/checkpoints/latest.pt" --bsd300 "$root/BSD300" --set14 "$root/Set14" \
      --limit "${LIMIT:-6}" --out "$run/eval" > "$run.eval.log" 2>&1
    echo "amp=$amp seed=$seed: $(grep -E 'BSD300|Set14' "$run.eval.log" | tr '\n' ' ')"
  done
done
