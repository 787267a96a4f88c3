#!/usr/bin/env python3
"""Tokenizer throughput, Swift against transformers' fast tokenizer (Rust), single thread, same run.

Encodes every text of the test corpus (Tests/ListConRankerTests/Fixtures/tokenizer/corpus.jsonl,
newlines inside a text turned into spaces so that each text is one line) with [CLS]/[SEP] and
truncation to --max-length, best of --repeats passes, and prints tokens per second for:
  - Swift `listconranker tokenize --benchmark-repeats` (build it with `swift build -c release`),
    one text at a time and as one batch;
  - transformers' AutoTokenizer call (`tokenizer(text)` and `tokenizer(texts)`), the usual API;
  - the Rust backend alone (`backend_tokenizer.encode` / `encode_batch`), without Python overhead.
Ratios are Swift over each reference. Run via tools/bench/tokenizer_bench.sh.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# One thread for the Rust side too: these must be set before tokenizers is imported.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def best_of(repeats, work):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(REPO, "Tests/ListConRankerTests/Fixtures/tokenizer/zh-lower"))
    parser.add_argument("--binary", default=os.path.join(REPO, ".build/release/listconranker"))
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    with open(os.path.join(REPO, "Tests/ListConRankerTests/Fixtures/tokenizer/corpus.jsonl"), encoding="utf-8") as handle:
        texts = [json.loads(line).replace("\n", " ") for line in handle]
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    backend = tokenizer.backend_tokenizer
    backend.enable_truncation(max_length=args.max_length)
    backend.no_padding()

    call_single, ids = best_of(args.repeats, lambda: [tokenizer(t, truncation=True, max_length=args.max_length)["input_ids"] for t in texts])
    tokens = sum(len(x) for x in ids)
    call_batch, batch_ids = best_of(args.repeats, lambda: tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"])
    rust_single, rust_ids = best_of(args.repeats, lambda: [backend.encode(t).ids for t in texts])
    rust_batch, _ = best_of(args.repeats, lambda: backend.encode_batch(texts))
    assert batch_ids == ids and rust_ids == ids, "reference paths disagree"

    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as handle:
        handle.write("".join(t + "\n" for t in texts))
        lines_path = handle.name
    try:
        output = subprocess.run(
            [args.binary, "tokenize", "--model", args.model, "--max-length", str(args.max_length),
             "--input", lines_path, "--benchmark-repeats", str(args.repeats)],
            check=True, capture_output=True, text=True).stdout
        swift = json.loads(output)
        swift_ids = [json.loads(line)["ids"] for line in subprocess.run(
            [args.binary, "tokenize", "--model", args.model, "--max-length", str(args.max_length), "--input", lines_path],
            check=True, capture_output=True, text=True).stdout.splitlines()]
    finally:
        os.unlink(lines_path)
    assert swift["tokens"] == tokens, (swift["tokens"], tokens)
    assert swift_ids == ids, "Swift ids differ from the reference on the benchmark lines"

    rates = {
        "swift single": swift["single_tokens_per_s"],
        "swift batch": swift["batch_tokens_per_s"],
        "transformers single": tokens / call_single,
        "transformers batch": tokens / call_batch,
        "rust backend single": tokens / rust_single,
        "rust backend batch": tokens / rust_batch,
    }
    print(f"{len(texts)} texts, {tokens} tokens (max_length {args.max_length}), best of {args.repeats}, one thread")
    for name, rate in rates.items():
        print(f"  {name:22s} {rate / 1e6:8.3f} M tokens/s")
    for mode in ("single", "batch"):
        print(f"  ratio Swift/{mode}: {rates['swift ' + mode] / rates['transformers ' + mode]:.2f}x vs transformers, "
              f"{rates['swift ' + mode] / rates['rust backend ' + mode]:.2f}x vs Rust backend")


if __name__ == "__main__":
    sys.exit(main())
