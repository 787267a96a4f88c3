#!/usr/bin/env bash
# Runs the GPU checks of training (issue 30) in one call on a lent GPU machine, after
# tools/device/package.sh here (carry [".device"]): writes $OUT/gpu-train-report.json.
set -uo pipefail
source "$(dirname "$0")/setup.sh"
python3 tools/device/gpu_train_check.py --binary "$BIN" --out "$OUT" "$@" 2>&1 | tee "$OUT/train-log.txt"
