#!/usr/bin/env bash
# Builds the software CUDA device into OUTDIR (default .build/cuda-emulator): libcuda.so.1,
# libcublasLt.so.13 and libnvrtc.so.13, which run the CUDA backend's kernels and products on the
# CPU, and the runtime.h they compile kernels with; then runs its self-test (selftest.cpp). Point
# LISTCONRANKER_CUDA_PATH at OUTDIR.
# Needs only the C++ compiler every Swift toolchain ships (clang++); takes seconds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.build/cuda-emulator}"
cxx="${CXX:-$(command -v clang++)}"
cxx="$(command -v "$cxx")"
mkdir -p "$out"
flags=(-std=c++20 -O2 -fPIC -shared -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter)
"$cxx" "${flags[@]}" -DLCR_EMU_CXX="\"$cxx\"" -o "$out/libcuda.so.1.tmp" \
    "$here/driver.cpp" "$here/module_compiler.cpp" -ldl
"$cxx" "${flags[@]}" -o "$out/libcublasLt.so.13.tmp" "$here/cublaslt.cpp" -ldl
"$cxx" "${flags[@]}" -DLCR_EMU_CXX="\"$cxx\"" -o "$out/libnvrtc.so.13.tmp" \
    "$here/nvrtc.cpp" "$here/module_compiler.cpp" -ldl
cp "$here/runtime.h" "$here/module_abi.h" "$out/"
for lib in libcuda.so.1 libcublasLt.so.13 libnvrtc.so.13; do mv "$out/$lib.tmp" "$out/$lib"; done
# The device's own contract (barriers, limits, sticky errors, cuBLASLt's layouts), in a process of its own.
"$cxx" -std=c++20 -O1 -o "$out/selftest" "$here/selftest.cpp" -ldl
if ! "$out/selftest" "$out" >"$out/selftest.log" 2>&1; then
    cat "$out/selftest.log" >&2
    echo "software CUDA device: the self-test failed (above)" >&2
    exit 1
fi
echo "software CUDA device built in $out (self-test passed)"
