"""Indexing throughput: `listconranker index` (encode + store in SQLite) against `listconranker
embed` (the encoder alone, writing JSON) on the same texts, in one run on this machine. The
difference is what the feature store costs at index time (issue 16).

  swift build -c release --product listconranker
  python3 tools/bench/index_vs_embed.py --model MODEL --data /tmp/manpages/train.jsonl [--rounds 2] [--limit 2000]

MODEL is a ListConRanker directory (index needs the whole model, e.g. a stage-1 run's output on
m3e-small). The texts are the distinct queries and passages of --data (eval JSON lines), with line
breaks turned into spaces so `embed` (one text per line) sees the same texts as `index`. Each round
runs embed, then index into a new store. Prints one JSON line per round and the ratio of medians.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def distinct_texts(path, limit):
    seen = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            sample = json.loads(line)
            for text in [sample["query"], *sample.get("positive", []), *sample.get("negative", [])]:
                text = " ".join(text.split())
                if text:
                    seen.setdefault(text, None)
    return list(seen)[:limit]


def timed(command):
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--limit", type=int, default=2000)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "listconranker"))
    args = p.parse_args()
    texts = distinct_texts(args.data, args.limit)
    with tempfile.TemporaryDirectory(prefix="lcr-index-bench-") as work:
        lines = os.path.join(work, "texts.txt")
        passages = os.path.join(work, "passages.jsonl")
        with open(lines, "w", encoding="utf-8") as f:
            f.writelines(t + "\n" for t in texts)
        with open(passages, "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"id": f"p{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts))
        embed, index = [], []
        for r in range(args.rounds):
            embed.append(timed([args.binary, "embed", "--model", args.model, "--precision", args.precision,
                                "--input", lines]))
            store = os.path.join(work, f"store-{r}.sqlite")
            index.append(timed([args.binary, "index", "--model", args.model, "--precision", args.precision,
                                "--store", store, "--input", passages]))
            print(json.dumps({"round": r, "texts": len(texts), "embed_seconds": embed[-1],
                              "index_seconds": index[-1]}), flush=True)
    e, i = statistics.median(embed), statistics.median(index)
    print(json.dumps({"texts": len(texts), "embed_texts_per_second": len(texts) / e,
                      "index_texts_per_second": len(texts) / i, "index_over_embed_time": i / e}))


if __name__ == "__main__":
    main()
