#!/bin/sh
# Builds tools/bench/int8_products.c against the package's C kernels (clang -O2, as a release
# build compiles them) and runs it with 2 threads: int8_products.sh [ROWS] [ROUNDS].
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
k="$root/Sources/CKernels"
out=${TMPDIR:-/tmp}/lcr-int8-products
cc=$(command -v clang || echo /opt/swift/usr/bin/clang)
"$cc" -O2 -I "$k/include" "$root/tools/bench/int8_products.c" "$k/linear.c" "$k/int8_rows.c" "$k/parallel.c" \
    "$k/dnnl_context.c" -o "$out" -ldnnl -lm -lpthread -ldl
grep -m1 'model name' /proc/cpuinfo
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$out" "$@"
