#!/usr/bin/env bash
# The whole test suite under a sanitizer (issue 17): AddressSanitizer (with LeakSanitizer) or
# ThreadSanitizer, each in its own scratch folder so the normal build is untouched.
#
#   tools/sanitizers/run.sh address|thread [-- SWIFT_TEST_ARGS...]
#
# Needs what the plain test run needs (libdnnl-dev, libsqlite3-dev, the PyPI test models, and for
# the store tests a PostgreSQL whose URL is in LISTCONRANKER_TEST_POSTGRES_URL: see .ci/run).
# Builds are debug builds (~20 minutes each from scratch on 2 cores) under `nice -n 19`.
# Reports go to .build-SANITIZER/reports/ (one file per report, via log_path) as well as stderr;
# the script exits non-zero if any test fails or any report was written.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tools/sanitizers

sanitizer=${1:-}
[[ $sanitizer == address || $sanitizer == thread ]] || { sed -n '4,5p' "$0" | sed 's/^# //' >&2; exit 2; }
shift
[[ ${1:-} == -- ]] && shift

scratch=.build-$sanitizer
reports=$PWD/$scratch/reports
rm -rf "$reports" && mkdir -p "$reports"

nice -n 19 swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" >&2

case $sanitizer in
    address)
        # detect_leaks: LeakSanitizer runs at exit. The suppressions name only leaks that are not
        # ours (see the file); each line says why.
        export ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan:abort_on_error=0"
        export LSAN_OPTIONS="suppressions=$PWD/$here/lsan.supp:print_suppressions=0"
        ;;
    thread)
        # One OpenMP thread: libgomp is not built with TSan, so the hand-over of work to its team
        # and its barriers are invisible to TSan, and every loop split over the team was reported
        # as racing with the thread that set it up (242 reports in the first run, each with a
        # libgomp frame). With one thread the parallel loops and oneDNN's products run on the
        # calling thread, and TSan sees every hand-over that remains: the service's event loops,
        # tasks, queue and model thread, the stores, and callers sharing one Reranker. (The split
        # loops themselves are checked on the plain suite's two threads against naive references.)
        export OMP_NUM_THREADS=1
        export TSAN_OPTIONS="log_path=$reports/tsan:suppressions=$PWD/$here/tsan.supp:halt_on_error=0:report_signal_unsafe=0"
        ;;
esac

status=0
CI=true nice -n 19 swift test --skip-build --no-parallel --sanitize="$sanitizer" --scratch-path "$scratch" "$@" || status=$?

count=$(find "$reports" -type f | wc -l)
echo "swift test exit status: $status; sanitizer reports: $count (in $reports)" >&2
[[ $status == 0 && $count == 0 ]]
