"""Two builds of listconranker against each other, pass by pass (BENCHMARKS.md).

This machine's speed drifts by tens of percent within seconds, so two builds timed one after
the other say little. This keeps one warmed-up `bench rerank --paced` process per build and
alternates single passes between them (which one goes first alternates too); each round gives
one ratio, and the median of the ratios is the result. It also checks that both builds wrote
the same scores.

  cp .build/release/listconranker /tmp/listconranker-before      # then change and rebuild
  python3 tools/bench/compare_builds.py /tmp/listconranker-before .build/release/listconranker \\
      --model /tmp/full-model --input /tmp/lcr-bench-c20.jsonl --precision bf16 --rounds 12

(`tools/bench/compare_pytorch.py` writes /tmp/lcr-bench-c20.jsonl and the i100/i1000 inputs.)
Extra arguments after `--` go to both `bench rerank` commands (`-- --iterative`).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


class PacedBench:
    """One `listconranker bench rerank --paced` process: loaded and warmed up once, then one
    timed pass per request."""

    def __init__(self, binary, args, scores_path):
        cmd = [binary, "bench", "rerank", "--model", args.model, "--input", args.input,
               "--precision", args.precision, "--paced", "--scores-out", scores_path] + args.extra
        self.scores_path = scores_path
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.process.stdout.readline()
        if not ready or not json.loads(ready).get("ready"):
            raise SystemExit(f"{binary} bench rerank did not start: {ready!r}")

    def timed_pass(self):
        self.process.stdin.write("pass\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())["seconds"]

    def scores(self):
        with open(self.scores_path) as f:
            return f.read()

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", help="the build to compare against (a listconranker binary)")
    parser.add_argument("after", help="the build being measured")
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True, help="JSON lines of {query, passages}")
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--rounds", type=int, default=12)
    argv, extra = sys.argv[1:], []
    if "--" in argv:  # what follows goes to both `bench rerank` commands
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    args = parser.parse_args(argv)
    args.extra = extra
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    with tempfile.TemporaryDirectory() as scratch:
        before = PacedBench(args.before, args, os.path.join(scratch, "before.jsonl"))
        after = PacedBench(args.after, args, os.path.join(scratch, "after.jsonl"))
        times_before, times_after, ratios = [], [], []
        for r in range(args.rounds):
            if r % 2:
                t_after = after.timed_pass()
                t_before = before.timed_pass()
            else:
                t_before = before.timed_pass()
                t_after = after.timed_pass()
            times_before.append(t_before)
            times_after.append(t_after)
            ratios.append(t_before / t_after)
            print(f"round {r + 1}: before {t_before:.2f} s, after {t_after:.2f} s, speed-up {t_before / t_after:.2f}",
                  flush=True)
        same_scores = before.scores() == after.scores()
        before.close()
        after.close()
    print(json.dumps({
        "speedup_median": round(statistics.median(ratios), 3),
        "fastest_before": round(min(times_before), 3),
        "fastest_after": round(min(times_after), 3),
        "fastest_speedup": round(min(times_before) / min(times_after), 3),
        "ratios": [round(x, 2) for x in ratios],
        "same_scores": same_scores,
    }))


if __name__ == "__main__":
    main()
