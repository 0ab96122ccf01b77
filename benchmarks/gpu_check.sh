#!/usr/bin/env bash
# One pass over the whole CUDA path, for the first GPU that comes along (about 5-8 minutes):
#   1. the CUDA tests (tests/test_gpu.py, `pytest -m gpu`);
#   2. a 200-step training run on the demo set (bf16 autocast, channels_last: the CUDA defaults), then
#      `evaluate` of its checkpoint on 64 validation blocks;
#   3. the benchmarks (`python -m benchmarks.run_all --device cuda --quick`);
# and prints one summary. Run from the repository root after `make install`: bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
N2N=${N2N:-.venv/bin/n2n-raw}
OUT=${OUT:-runs/gpu-check}
mkdir -p "$OUT"
summary() { printf '%-28s %s\n' "$1" "$2" | tee -a "$OUT/summary.txt"; }
: > "$OUT/summary.txt"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'NO GPU')" | tee "$OUT/device.txt"
summary "device" "$(cat "$OUT/device.txt")"

start=$(date +%s)
"$PY" -m pytest -q -m gpu tests/test_gpu.py > "$OUT/tests.txt" 2>&1
summary "CUDA tests" "$(tail -n 1 "$OUT/tests.txt") ($(( $(date +%s) - start )) s)"

start=$(date +%s)
"$N2N" make-demo-data --out data/sidd-mini > "$OUT/data.txt" 2>&1
"$N2N" prepare-sidd --sidd-root data/sidd-mini/SIDD_Medium_Raw --out data/prepared/sidd-mini >> "$OUT/data.txt" 2>&1
rm -rf "$OUT/run"
"$N2N" train --track raw --data data/prepared/sidd-mini --validation-dir data/sidd-mini --out "$OUT/run" \
  --device cuda --epochs 1 --steps-per-epoch 200 --lr 5e-4 --warmup-steps 50 --clip-grad-norm 0.5 \
  --validation-limit 64 --num-workers 4 --log-every 50 > "$OUT/train.txt" 2>&1
train_rc=$?
summary "200-step training" "exit $train_rc, $(( $(date +%s) - start )) s, last: $(tail -n 1 "$OUT/run/metrics.jsonl" 2>/dev/null | cut -c1-160)"
"$N2N" evaluate --checkpoint "$OUT/run/checkpoints/latest.pt" --blocks-dir data/sidd-mini --limit 64 --device cuda \
  --out "$OUT/eval" > "$OUT/eval.txt" 2>&1
summary "evaluate (64 blocks)" "$(grep -m1 'denoised' "$OUT/eval.txt")"

start=$(date +%s)
"$PY" -m benchmarks.run_all --device cuda --quick --no-readme --results-dir "$OUT/bench" > "$OUT/bench.txt" 2>&1
summary "benchmarks (--quick)" "exit $?, $(( $(date +%s) - start )) s"
grep -E '^\|' "$OUT/bench.txt" | tee -a "$OUT/summary.txt"
echo "--- summary in $OUT/summary.txt"
