#!/usr/bin/env bash
# Runs every GPU check in one call on a lent GPU machine (PyTorch and transformers there, no Swift):
#
#   tools/device/package.sh                # here: builds .device/bundle.tar.xz (the CLI and its libraries)
#   # then, through the device tool, with carry [".device"]:
#   tools/device/gpu-check.sh              # there: writes $OUT/gpu-report.json
#
# The CUDA libraries come from the machine: the driver, and cuBLASLt and NVRTC from PyTorch's wheels,
# which the backend finds itself (README, "On a GPU").
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/gpu-check}"
mkdir -p "$OUT" /tmp/lcr
tar -C /tmp/lcr -xJf .device/bundle.tar.xz || { echo "no .device/bundle.tar.xz: run tools/device/package.sh first"; exit 2; }
export LD_LIBRARY_PATH="/tmp/lcr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.txt"
/tmp/lcr/bin/listconranker --help >/dev/null || { echo "the CLI does not start here (ldd below)"; ldd /tmp/lcr/bin/listconranker; exit 2; }
# Our own library search first; if it finds nothing, say so and point it at PyTorch's wheels, so that the
# rest of the run still happens (the report records which).
probe() { /tmp/lcr/bin/listconranker rerank --device cuda --model Tests/ListConRankerTests/Fixtures/tiny-model q a b; }
if ! probe > "$OUT/probe.txt" 2>&1; then
    echo "probe failed: $(cat "$OUT/probe.txt")"
    LISTCONRANKER_CUDA_PATH="$(python3 -c 'import glob, os, site; print(":".join(sorted(d for p in site.getsitepackages() for d in glob.glob(os.path.join(p, "nvidia", "*", "lib")))))')"
    export LISTCONRANKER_CUDA_PATH
    echo "retrying with LISTCONRANKER_CUDA_PATH=$LISTCONRANKER_CUDA_PATH" | tee -a "$OUT/probe.txt"
    probe >> "$OUT/probe.txt" 2>&1
fi
cat "$OUT/probe.txt"
python3 tools/device/gpu_check.py --binary /tmp/lcr/bin/listconranker --out "$OUT" "$@" 2>&1 | tee "$OUT/log.txt"
