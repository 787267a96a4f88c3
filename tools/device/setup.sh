# Sourced by the GPU checks on a lent GPU machine (PyTorch and transformers there, no Swift): unpacks
# the CLI built here by tools/device/package.sh, checks that it starts, and finds the CUDA libraries
# (our own search first; if it finds nothing, PyTorch's wheels through LISTCONRANKER_CUDA_PATH, so that
# the rest of the run still happens and the report records which). Sets OUT and BIN.
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT="${OUT:-/tmp/gpu-check}"
mkdir -p "$OUT" /tmp/lcr
tar -C /tmp/lcr -xJf .device/bundle.tar.xz || { echo "no .device/bundle.tar.xz: run tools/device/package.sh first"; exit 2; }
BIN=/tmp/lcr/bin/listconranker
export LD_LIBRARY_PATH="/tmp/lcr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.txt"
"$BIN" --help >/dev/null || { echo "the CLI does not start here (ldd below)"; ldd "$BIN"; exit 2; }
probe() { "$BIN" rerank --device cuda --model Tests/ListConRankerTests/Fixtures/tiny-model q a b; }
if ! probe > "$OUT/probe.txt" 2>&1; then
    echo "probe failed: $(cat "$OUT/probe.txt")"
    LISTCONRANKER_CUDA_PATH="$(python3 -c 'import glob, os, site; print(":".join(sorted(d for p in site.getsitepackages() for d in glob.glob(os.path.join(p, "nvidia", "*", "lib")))))')"
    export LISTCONRANKER_CUDA_PATH
    echo "retrying with LISTCONRANKER_CUDA_PATH=$LISTCONRANKER_CUDA_PATH" | tee -a "$OUT/probe.txt"
    probe >> "$OUT/probe.txt" 2>&1
fi
cat "$OUT/probe.txt"
