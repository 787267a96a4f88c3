#!/usr/bin/env bash
# Runs every harness in turn (never two at once: the machine is shared) for N executions each,
# default 1,000,000, and collects run.sh's summary lines in tools/fuzz/work/campaign.txt, the
# figures RELIABILITY.md reports. Stops at the first harness that fails, leaving its input in
# tools/fuzz/work/HARNESS/artifacts/.
#
#   tools/fuzz/campaign.sh [RUNS] [HARNESS...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runs=${1:-1000000}
shift || true
harnesses=("$@")
[[ ${#harnesses[@]} -gt 0 ]] || mapfile -t harnesses < <("$here/run.sh" --list)
mkdir -p "$here/work"
for harness in "${harnesses[@]}"; do
    "$here/run.sh" "$harness" --runs "$runs" | tee -a "$here/work/campaign.txt"
done
