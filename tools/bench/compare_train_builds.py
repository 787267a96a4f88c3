"""Training speed of two builds of `listconranker` on the CPU, in one run: one epoch each (or the
first `--steps` steps), alternating which build goes first from round to round (the first of a pair
tends to run a little faster). Stage 1 trains on the same cached features; `--stage 2` trains the
encoder too (no cache). Prints each round's lists/s and the ratio of the medians (second build / first).

  python3 tools/make_manpages_task.py --out /tmp/manpages --seed 13
  python3 tools/bench/compare_train_builds.py --before OLD/.build/release/listconranker \\
      --after .build/release/listconranker --encoder .models/m3e-small --train /tmp/manpages/train.jsonl --rounds 6
  python3 tools/bench/compare_train_builds.py --stage 2 --steps 3 --batch-size 4 --max-length 128 \\
      --before OLD/.build/release/listconranker --after .build/release/listconranker \\
      --encoder .models/m3e-small --train /tmp/manpages/train.jsonl --rounds 3
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile


def epoch(binary, args, cache, work, name):
    """One epoch (or `--steps` steps) of training: lists per second over its step lines (evaluation
    and loading excluded)."""
    log = os.path.join(work, name + ".jsonl")
    subprocess.run([binary, "train", "--stage", str(args.stage), "--encoder", args.encoder, "--data", args.train,
                    "--output", os.path.join(work, name), "--feature-cache", cache, "--epochs", "1",
                    "--batch-size", str(args.batch_size), "--micro-batch-size", str(args.batch_size),
                    "--list-size", str(args.list_size), "--seed", "42", "--log", log,
                    *(["--stop-after-step", str(args.steps)] if args.steps else []),
                    *(["--max-length", str(args.max_length)] if args.max_length else [])],
                   check=True, capture_output=True, text=True)
    lists = seconds = 0.0
    with open(log) as f:
        for entry in map(json.loads, f):
            if entry.get("event") == "step":
                lists += entry["lists"]
                seconds += entry["seconds"]
    return lists / seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", required=True)
    p.add_argument("--after", required=True)
    p.add_argument("--encoder", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--list-size", type=int, default=20)
    p.add_argument("--stage", type=int, choices=[1, 2], default=1)
    p.add_argument("--steps", type=int, help="stop each run after this many steps (stage 2: an epoch is long)")
    p.add_argument("--max-length", type=int, help="the texts' token limit (default: the trainer's)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="lcr-train-builds-") as work:
        cache = os.path.join(work, "cache")
        epoch(args.before, args, cache, work, "warm-up")   # stage 1: encodes and caches the features
        before, after = [], []
        for r in range(args.rounds):
            pair = [(args.before, before, "before"), (args.after, after, "after")]
            for binary, results, name in (pair if r % 2 == 0 else pair[::-1]):
                results.append(epoch(binary, args, cache, work, f"{name}-{r}"))
            print(json.dumps({"round": r, "before": before[-1], "after": after[-1], "ratio": after[-1] / before[-1]}),
                  flush=True)
    print(json.dumps({"before_median": statistics.median(before), "after_median": statistics.median(after),
                      "ratio": statistics.median(after) / statistics.median(before)}))


if __name__ == "__main__":
    main()
