"""The host's share of a GPU training step, measured without a GPU: `train --profile` on the software
CUDA device (tools/cuda-emulator), whose events read a clock that runs only while device work runs
(kernels, products, copies). A step's wall time less its kernels' time is then what the host spends
enqueuing it: building each launch's arguments, the memory pool, uploads of row tables, the loss on
the host. On a GPU the device works while the host enqueues, so this is a floor under a step's
time whatever the card: a step is launch-bound when its host time exceeds its GPU time. Issue 30's
stage-1 target (2x PyTorch's 2,511 lists/s on an H100, 32 lists a step) leaves 6.4 ms a step.

  swift build -c release --product listconranker --scratch-path .build-release
  bash tools/cuda-emulator/build.sh
  python3 tools/bench/host_time.py --binary .build-release/release/listconranker [--stage 1|2] [--steps 6]

The tiny fixture keeps the emulated kernels short; the host's work per launch does not depend on
the tensors' sizes, and a stage-1 step makes the launches the published head makes (two list
layers; BENCHMARKS.md counts 175 for one micro-batch). The first step (uploads, plan look-ups, the
kernel module's first use) is left out. Prints one JSON object: per step, the median wall time, device
time, host time, launches and host microseconds a launch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "ListConRankerTests", "Fixtures")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", required=True, help="a release build of listconranker")
    p.add_argument("--emulator", default=os.path.join(ROOT, ".build", "cuda-emulator"),
                   help="the software CUDA device's folder (tools/cuda-emulator/build.sh)")
    p.add_argument("--stage", type=int, default=1, choices=[1, 2])
    p.add_argument("--steps", type=int, default=6, help="steps to run (the first is left out)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = p.parse_args()
    if not os.path.exists(os.path.join(args.emulator, "libcuda.so.1")):
        sys.exit(f"no software CUDA device in {args.emulator}: run tools/cuda-emulator/build.sh")
    with tempfile.TemporaryDirectory() as work:
        log = os.path.join(work, "log.jsonl")
        environment = dict(os.environ, LISTCONRANKER_CUDA_PATH=args.emulator,
                           LISTCONRANKER_CUDA_CACHE=os.path.join(work, "cubins"))
        command = [args.binary, "train", "--stage", str(args.stage), "--device", "cuda", "--precision", args.precision,
                   "--model", os.path.join(FIXTURES, "tiny-model"),
                   "--data", os.path.join(FIXTURES, "evaluation", "fixture_dataset.jsonl"),
                   "--output", os.path.join(work, "out"), "--feature-cache", os.path.join(work, "features"),
                   "--epochs", "1", "--batch-size", str(args.batch_size), "--list-size", "4", "--max-length", "32",
                   "--stop-after-step", str(args.steps), "--log", log, "--profile"]
        run = subprocess.run(command, env=environment, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"train exited {run.returncode}: {run.stderr.strip()[-2000:]}")
        with open(log, encoding="utf-8") as f:
            steps = [entry for entry in map(json.loads, f) if entry.get("event") == "step"][1:]
    if not steps:
        sys.exit("no step after the first: ask for more --steps")
    wall = [s["seconds"] for s in steps]
    device = [sum(s["kernels"].values()) for s in steps]
    launches = [sum(s["kernel_launches"].values()) for s in steps]
    host = [w - d for w, d in zip(wall, device)]
    print(json.dumps({
        "stage": args.stage, "precision": args.precision, "lists_per_step": args.batch_size, "steps": len(steps),
        "wall_ms": statistics.median(wall) * 1e3, "device_ms": statistics.median(device) * 1e3,
        "host_ms": statistics.median(host) * 1e3, "launches": statistics.median(launches),
        "host_us_per_launch": statistics.median(h / n * 1e6 for h, n in zip(host, launches)),
    }))


if __name__ == "__main__":
    main()
