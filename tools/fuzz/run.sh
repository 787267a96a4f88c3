#!/usr/bin/env bash
# Builds one libFuzzer harness with AddressSanitizer and runs it for N seconds or N executions on
# its committed seed corpus, then prints executions, edge coverage and time.
#
#   tools/fuzz/run.sh HARNESS [--seconds N | --runs N] [--no-build] [-- LIBFUZZER_ARGS...]
#   tools/fuzz/run.sh --list
#
# Seeds (small, committed): tools/fuzz/corpus/HARNESS/. What the fuzzer adds goes to the
# git-ignored tools/fuzz/work/HARNESS/corpus/ (kept between runs, so a campaign can resume), and
# crashing, leaking or slow inputs to tools/fuzz/work/HARNESS/artifacts/. Everything runs under
# `nice -n 19`: a campaign must not take the CPU from benchmarks on the same machine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
harnesses=(safetensors zip unpickler model-config tokenizer-files tokenizer eval-jsonl http-rerank)

usage() { sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 1 ]] || usage
if [[ $1 == --list ]]; then printf '%s\n' "${harnesses[@]}"; exit 0; fi
harness=$1; shift
[[ " ${harnesses[*]} " == *" $harness "* ]] || { echo "unknown harness '$harness' (--list)" >&2; exit 2; }

limit=(-max_total_time=60)
build=1
extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --seconds) limit=(-max_total_time="$2"); shift 2 ;;
        --runs) limit=(-runs="$2"); shift 2 ;;
        --no-build) build=0; shift ;;
        --) shift; extra=("$@"); break ;;
        *) usage ;;
    esac
done

# Largest input per harness: big enough for the structure (a zip's central directory after a
# few members, several JSON files), small enough that each execution stays fast.
case $harness in
    safetensors|zip|tokenizer-files) max_len=16384 ;;
    unpickler|tokenizer|eval-jsonl|http-rerank) max_len=8192 ;;
    model-config) max_len=4096 ;;
esac

# -enable-testing: the harnesses reach internal readers (MappedFile, ZipArchive, the unpickler)
# through @testable import. lld: gold fails on these objects (an internal error in its DWARF reader).
flags=(-c release
       -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing
       -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld)
if [[ $build == 1 ]]; then
    nice -n 19 swift build --package-path "$here" "${flags[@]}" --product "fuzz-$harness" >&2
fi
binary="$(swift build --package-path "$here" "${flags[@]}" --show-bin-path)/fuzz-$harness"

work="$here/work/$harness"
mkdir -p "$work/corpus" "$work/artifacts"
log="$work/last-run.log"

# A harness-specific dictionary (JSON keys and the like) plus the JSON one, where they exist.
dict_args=()
if [[ -f $here/dict/$harness.dict ]]; then
    case $harness in
        model-config|tokenizer-files|eval-jsonl|http-rerank) cat "$here/dict/json.dict" "$here/dict/$harness.dict" >"$work/dict" ;;
        *) cp "$here/dict/$harness.dict" "$work/dict" ;;
    esac
    dict_args=(-dict="$work/dict")
fi

start=$(date +%s.%N)
set +e
# Leaks are reported by LeakSanitizer at exit and for each input libFuzzer suspects of leaking.
# Swift's own backtracer would catch a trap before libFuzzer does (and trips ASan doing so),
# so no crash input would be saved: leave traps to libFuzzer's handler.
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} nice -n 19 "$binary" \
    "${limit[@]}" "${dict_args[@]}" -max_len=$max_len -timeout=1 -rss_limit_mb=2048 -detect_leaks=1 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${extra[@]}" \
    "$work/corpus" "$here/corpus/$harness" >"$log" 2>&1
status=$?
set -e
end=$(date +%s.%N)
# Scratch files of the harnesses that read through a path (ScratchDirectory).
rm -rf /dev/shm/listconranker-fuzz-"$harness"-* 2>/dev/null || true

executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
slowest=$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log" | tail -1)
rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
findings=$(find "$work/artifacts" -type f | wc -l)
echo "harness=$harness executions=${executions:-?} edges=${edges:-?} features=${features:-?} seconds=$seconds" \
     "slowest_unit_s=${slowest:-?} peak_rss_mb=${rss:-?} exit=$status artifacts=$findings log=$log"
if [[ $status != 0 ]]; then
    grep -E 'ERROR: |SUMMARY: |fuzz invariant failed|Test unit written|Fatal error' "$log" | head -20 >&2
    # -timeout measures wall-clock time, and a nice-19 process on a busy machine can be descheduled
    # for over a second: rerun a timed-out input alone so that a stall is told from a slow input.
    for input in $(sed -n 's/.*Test unit written to \(.*timeout-.*\)$/\1/p' "$log"); do
        echo "rerunning $input alone 3 times:" >&2
        for _ in 1 2 3; do
            SWIFT_BACKTRACE=enable=no nice -n 19 "$binary" -timeout=1 "$input" 2>&1 | grep -E '^Executed|SUMMARY' >&2 || true
        done
    done
fi
exit $status
