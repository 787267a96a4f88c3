#!/usr/bin/env bash
# Makes .device-map/manpages-m3e.tar, what tools/device/gpu-map-check.sh needs on a GPU machine that
# has neither the task's Debian package nor m3e-small: the manpages-zh task (made first when TASK has
# none: needs `apt-get install manpages-zh`) and m3e-small rounded to bf16 (tools/fetch-test-models.sh
# puts it in .models/). .git/info/exclude keeps the folder out of git; the device tool carries it
# (`carry: [".device", ".device-map"]`).
set -euo pipefail
cd "$(dirname "$0")/../.."
task="${1:-/tmp/manpages}"
[ -f "$task/train.jsonl" ] || python3 tools/make_manpages_task.py --out "$task" --seed 13
python3 tools/device/manpages_package.py pack --model .models/m3e-small --task "$task" --out .device-map/manpages-m3e.tar
grep -qxF '/.device-map/' .git/info/exclude 2>/dev/null || echo '/.device-map/' >> .git/info/exclude
