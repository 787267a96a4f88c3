#!/usr/bin/env bash
# Runs every GPU check of the model (issue 26) in one call on a lent GPU machine:
#
#   tools/device/package.sh                # here: builds .device/bundle.tar.xz (the CLI and its libraries)
#   # then, through the device tool, with carry [".device"]:
#   tools/device/gpu-check.sh              # there: writes $OUT/gpu-report.json
#
# The CUDA libraries come from the machine: the driver, and cuBLASLt and NVRTC from PyTorch's wheels,
# which the backend finds itself (README, "On a GPU").
set -uo pipefail
source "$(dirname "$0")/setup.sh"
python3 tools/device/gpu_check.py --binary "$BIN" --out "$OUT" "$@" 2>&1 | tee "$OUT/log.txt"
