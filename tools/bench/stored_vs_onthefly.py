"""Passages encoded once: a rerank from stored pooled vectors against the same rerank that
encodes every passage, in one run on this machine (issue 16's speed proof).

  swift build -c release --product listconranker
  python3 tools/reference/make_model_fixtures.py full /tmp/full-model     # full-size random model
  python3 tools/bench/stored_vs_onthefly.py --model /tmp/full-model [--precision fp32] [--cases c20,i100] [--repeats 3]

Both sides run `listconranker bench rerank` on the same lists (tools/bench/compare_pytorch.py's
c20 and iN cases: passages of about 160 tokens); the stored side gets `--stored`, which computes
the passages' vectors once before timing, as `listconranker index` stores them, so each timed
pass encodes only the query. The store's own look-up time is `store-bench`'s (see BENCHMARKS.md)
and is added in the report. Prints one JSON line per case and a Markdown table.
"""
import argparse
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from compare_pytorch import make_lists  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def bench(binary, model, precision, path, iterative, stored, repeats):
    command = [binary, "bench", "rerank", "--model", model, "--precision", precision, "--input", path,
               "--repeats", str(repeats)]
    if iterative:
        command.append("--iterative")
    if stored:
        command.append("--stored")
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--cases", default="c20,i100")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "listconranker"))
    args = p.parse_args()
    rows = []
    for case in args.cases.split(","):
        lists, iterative = make_lists(case, random.Random(args.seed))
        path = f"/tmp/lcr-stored-{case}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for l in lists:
                f.write(json.dumps({"query": l[0], "passages": l[1:]}, ensure_ascii=False) + "\n")
        fly = bench(args.binary, args.model, args.precision, path, iterative, False, args.repeats)
        stored = bench(args.binary, args.model, args.precision, path, iterative, True, args.repeats)
        row = {"case": case, "precision": args.precision, "on_the_fly_s": fly["seconds"], "stored_s": stored["seconds"],
               "ratio": fly["seconds"] / stored["seconds"], "encoder_texts": [fly["encoderTextsPerPass"],
                                                                              stored["encoderTextsPerPass"]],
               "on_the_fly_all": fly["allSeconds"], "stored_all": stored["allSeconds"]}
        print(json.dumps(row), flush=True)
        rows.append(row)
    print("\n| case | precision | encodes each pass | on the fly | stored vectors | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['precision']} | {r['encoder_texts'][0]} / {r['encoder_texts'][1]} texts | "
              f"{r['on_the_fly_s']:.3f} s | {r['stored_s'] * 1000:.1f} ms | **{r['ratio']:.0f}×** |")


if __name__ == "__main__":
    main()
