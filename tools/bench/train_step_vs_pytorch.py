"""Stage-1 training speed: lists per second of the Swift trainer against the PyTorch recipe doing
the same training step (forward, Circle Loss, backward, clipping, AdamW) on the same cached
encoder features, in one run on this machine (issue 14's speed proof).

  swift build -c release --product listconranker
  python3 tools/make_manpages_task.py --out /tmp/manpages --seed 13
  python3 tools/bench/train_step_vs_pytorch.py --encoder .models/m3e-small --train /tmp/manpages/train.jsonl \
      --heads 8 [--rounds 2] [--batch-size 64] [--threads 2]

Each round runs one epoch of each trainer (Swift first, then PyTorch), no evaluation. The Swift
trainer caches the features on its first run (not timed: the features of a run that found them
cached are what both sides train on). Swift's figure is Σ lists / Σ seconds over the `step` lines of
its `--log`; PyTorch's is the script's `lists_per_second` (it times the same step the same way).
Both are fp32: bf16 products need AVX-512 bf16 hardware, which `listconranker` reports. With
`--device cuda` both train on the GPU (`--torch-bf16`: PyTorch under bf16 autocast with fused AdamW,
as GPU users run it; `--precision bf16`: ours in mixed precision, on features encoded in bf16,
which both sides then train on).
Prints one JSON line per round and the ratio of the medians.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def swift_epoch(args, cache, work, name):
    log = os.path.join(work, name + ".jsonl")
    output = os.path.join(work, name)
    subprocess.run([args.binary, "train", "--stage", "1", "--encoder", args.encoder, "--data", args.train,
                    "--output", output, "--feature-cache", cache, "--epochs", "1",
                    "--batch-size", str(args.batch_size), "--micro-batch-size", str(args.batch_size),
                    "--list-size", str(args.list_size), "--seed", "42", "--log", log, "--device", args.device,
                    "--precision", args.precision],
                   check=True, capture_output=True, text=True)
    lists = seconds = 0.0
    with open(log, encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            if entry.get("event") == "step":
                lists += entry["lists"]
                seconds += entry["seconds"]
    return lists / seconds


def pytorch_epoch(args, features):
    output = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "reference", "train_stage1_reference.py"),
                             "--train", args.train, "--features", features, "--heads", str(args.heads),
                             "--epochs", "1", "--batch-size", str(args.batch_size),
                             "--micro-batch-size", str(args.batch_size), "--list-size", str(args.list_size),
                             "--seed", "42", "--threads", str(args.threads), "--device", args.device,
                             *(["--bf16"] if args.torch_bf16 else [])],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])["lists_per_second"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--encoder", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--heads", type=int, required=True, help="the encoder's num_attention_heads")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--list-size", type=int, default=20)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "listconranker"))
    p.add_argument("--device", default="cpu", help="cpu or cuda: both trainers train there")
    p.add_argument("--torch-bf16", action="store_true", help="PyTorch autocasts to bf16 (the GPU peer users run)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                   help="ours: the features' precision, and on a GPU the products' (bf16: mixed precision)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="lcr-train-bench-") as work:
        cache = os.path.join(work, "cache")
        swift_epoch(args, cache, work, "warm-up")   # encodes and caches the features
        (identity,) = os.listdir(cache)
        features = os.path.join(cache, identity)
        swift, torch = [], []
        for r in range(args.rounds):
            swift.append(swift_epoch(args, cache, work, f"round-{r}"))
            torch.append(pytorch_epoch(args, features))
            print(json.dumps({"round": r, "swift_lists_per_second": swift[-1],
                              "pytorch_lists_per_second": torch[-1]}), flush=True)
    s, t = statistics.median(swift), statistics.median(torch)
    print(json.dumps({"device": args.device, "torch_bf16": args.torch_bf16, "precision": args.precision,
                      "batch_size": args.batch_size, "list_size": args.list_size, "threads": args.threads,
                      "swift_lists_per_second": s, "pytorch_lists_per_second": t, "ratio": s / t}))


if __name__ == "__main__":
    main()
