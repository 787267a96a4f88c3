#!/usr/bin/env bash
# Runs issue 30's quality check in one call on a lent GPU machine: the manpages-zh recipe (stage 1,
# then stage 2) in bf16 from the package of tools/device/manpages_package.py, against the CPU
# trainer's MAP (tools/device/manpages_cpu_baseline.json). Needs tools/device/package.sh and the
# package (.device-map/manpages-m3e.tar) made here first: carry [".device", ".device-map"]. Writes
# $OUT/gpu-map-report.json.
set -uo pipefail
source "$(dirname "$0")/setup.sh"
python3 tools/device/gpu_map_check.py --binary "$BIN" --out "$OUT" "$@" 2>&1 | tee "$OUT/map-log.txt"
