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
import sys
import tempfile

from paced_bench import PacedBench


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
        def start(binary, name):
            return PacedBench(binary, args.model, args.input, args.precision, os.path.join(scratch, name), args.extra)
        before, after = start(args.before, "before.jsonl"), start(args.after, "after.jsonl")
        times_before, times_after, ratios = [], [], []
        for r in range(args.rounds):
            if r % 2:
                (report_after, scores_after), (report_before, scores_before) = after.timed_pass(), before.timed_pass()
            else:
                (report_before, scores_before), (report_after, scores_after) = before.timed_pass(), after.timed_pass()
            t_before, t_after = report_before["seconds"], report_after["seconds"]
            times_before.append(t_before)
            times_after.append(t_after)
            ratios.append(t_before / t_after)
            print(f"round {r + 1}: before {t_before:.2f} s, after {t_after:.2f} s, speed-up {t_before / t_after:.2f}",
                  flush=True)
        same_scores = scores_before == scores_after
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
