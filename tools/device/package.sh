#!/usr/bin/env bash
# Builds the CLI for a GPU machine that has no Swift (../shared/DESIGN.md §10): a release build with
# the Swift runtime linked in, stripped, with the shared libraries `ldd` names (oneDNN, libgomp,
# SQLite, curl's …) beside it, glibc's own left to the machine. Writes .device/bundle.tar.xz, which
# .git/info/exclude keeps out of git and the device tool carries (`carry: [".device"]`).
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --static-swift-stdlib --product listconranker
rm -rf .device/stage && mkdir -p .device/stage/bin .device/stage/lib
cp .build/release/listconranker .device/stage/bin/
strip .device/stage/bin/listconranker
ldd .build/release/listconranker | awk '/=> \// { print $3 }' \
    | grep -vE '/(libc|libm|libdl|libpthread|librt|libresolv)\.so|/ld-linux' \
    | while read -r library; do cp -L "$library" .device/stage/lib/; done
tar -C .device/stage -cJf .device/bundle.tar.xz bin lib
rm -rf .device/stage
grep -qxF '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
ls -la .device/bundle.tar.xz
