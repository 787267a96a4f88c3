#!/usr/bin/env bash
# Tokenizer throughput against transformers' fast tokenizer (see tokenizer_bench.py).
# Usage: tools/bench/tokenizer_bench.sh [--model DIR] [--repeats N] [--max-length N]
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product listconranker
exec python3 tools/bench/tokenizer_bench.py "$@"
