"""Stage-2 training speed and peak GPU memory: `listconranker train --stage 2 --device cuda` against
the PyTorch recipe (tools/reference/train_stage2_reference.py: BertModel and the head under bf16
autocast, fused AdamW, clipping, as GPU users train) on the same model, data and GPU, in one run
(issue 30's speed proof).

  python3 tools/bench/stage2_vs_pytorch.py --model /tmp/full-model --train train.jsonl \\
      --batch-size 8 --steps 6 [--binary .build/release/listconranker]

Both train `--steps` steps of `--batch-size` lists of 1 + `--list-size` texts (PyTorch in one
micro-batch a step; ours in `--micro-batch-size` lists, the whole batch unless named); lists/s is
over the steps after the first (start-up, kernel compilation and the allocators' first growth
excluded): ours from its log's step lines, PyTorch's from the script's timing of the same steps.
Ours is timed without `train --profile`: profiling waits for the GPU at every phase of every
micro-batch and records an event after every kernel, which a step without it does not, so
`--profile` runs ours a second time, for `--profile-steps` steps, and reports that run's phases,
kernels and memory beside the unprofiled run's speed (and its own lists/s, to show what profiling
cost).
Peak memory is the GPU's `memory.used` (nvidia-smi, polled every 0.1 s) above what it used before
the run, for both (the same measure); PyTorch's own torch.cuda.max_memory_allocated is reported
beside it; with `--profile` ours also reports the most its memory pool held (`held_peak_bytes`) and
the encoder's activation peak by the count it fits micro-batches by
(`encoder_activation_count_bytes`). Ours trains in fp32 unless `--extra` says `--precision bf16`. `--pytorch-from FILE`
takes PyTorch's figures from an earlier run's output line for the same model and batch instead of
running it again (a GPU call's minutes are few). Prints one JSON line.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class MemoryPoll:
    """The largest `memory.used` (MiB) of GPU `index` while it runs, and what it used before."""

    def __init__(self, index):
        self.index, self.peak, self.stopped = index, 0, False
        self.idle = self.sample()
        self.thread = threading.Thread(target=self.poll, daemon=True)

    def sample(self):
        try:
            out = subprocess.run(["nvidia-smi", "-i", str(self.index), "--query-gpu=memory.used",
                                  "--format=csv,noheader,nounits"], capture_output=True, text=True).stdout
        except FileNotFoundError:   # no NVIDIA driver tools: a dry run on the software CUDA device
            return 0
        return int(out.strip().splitlines()[0]) if out.strip() else 0

    def poll(self):
        while not self.stopped:
            self.peak = max(self.peak, self.sample())
            time.sleep(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stopped = True
        self.thread.join()

    @property
    def peak_bytes(self):
        return max(0, self.peak - self.idle) * 1024 * 1024


def ours(args, work, profile=False):
    """Our run of `--steps` steps (with `profile`, `--profile-steps` steps under `train --profile`)."""
    label = "ours-profiled" if profile else "ours"
    log, output = os.path.join(work, f"{label}.jsonl"), os.path.join(work, label)
    steps = args.profile_steps if profile else args.steps
    with MemoryPoll(args.gpu) as memory:
        run = subprocess.run([args.binary, "train", "--stage", "2", "--device", f"cuda:{args.gpu}", "--model", args.model,
                              "--data", args.train, "--output", output, "--epochs", "1",
                              "--batch-size", str(args.batch_size),
                              "--micro-batch-size", str(args.micro_batch_size or args.batch_size),
                              "--list-size", str(args.list_size), "--max-length", str(args.max_length),
                              "--seed", "42", "--stop-after-step", str(steps), "--log", log,
                              *(["--profile"] if profile else []), *args.extra.split()],
                             capture_output=True, text=True, timeout=args.timeout)
    if run.returncode != 0:
        raise RuntimeError(f"train exited {run.returncode}: {run.stderr.strip()[-2000:]}")
    with open(log, encoding="utf-8") as f:
        steps = [entry for entry in map(json.loads, f) if entry.get("event") == "step"]
    later = steps[1:] or steps
    result = {"lists_per_second": sum(s["lists"] for s in later) / sum(s["seconds"] for s in later),
              "steps": len(steps), "first_step_seconds": steps[0]["seconds"], "peak_memory_bytes": memory.peak_bytes,
              "losses": [s["loss"] for s in steps]}
    if profile:
        # Memory from inside the run: the most our pool held from the driver at once (the context's
        # own not included, unlike nvidia-smi's) and the encoder's activation peak by
        # EncoderActivationMemory's count, which the trainer fits micro-batches by: a GPU run checks it.
        memory = [s.get("device_memory", {}) for s in steps]
        for key in ("held_peak_bytes", "encoder_activation_count_bytes"):
            values = [m[key] for m in memory if key in m]
            if values:
                result[key] = max(values)
        # Where a step's time goes: each phase's mean seconds over the steps after the first.
        phases = sorted({name for s in later for name in s.get("phases", {})})
        result["phase_seconds"] = {name: sum(s.get("phases", {}).get(name, 0) for s in later) / len(later)
                                   for name in phases}
        # On a GPU, each kernel's mean seconds a step (events on the stream: which kernels the
        # phases are made of), largest first.
        kernels = {name for s in later for name in s.get("kernels", {})}
        means = {name: sum(s.get("kernels", {}).get(name, 0) for s in later) / len(later) for name in kernels}
        if means:
            result["kernel_seconds"] = dict(sorted(means.items(), key=lambda item: -item[1]))
            # And how many launches a step makes, each kernel's and in all: many short kernels whose
            # seconds add up to the step's say the host's launching is the bound, not the GPU.
            launches = {name: sum(s.get("kernel_launches", {}).get(name, 0) for s in later) / len(later) for name in kernels}
            result["kernel_launches"] = dict(sorted(launches.items(), key=lambda item: -item[1]))
            result["kernel_launches_per_step"] = sum(launches.values())
    return result


def pytorch(args):
    with MemoryPoll(args.gpu) as memory:
        run = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "reference", "train_stage2_reference.py"),
                              "--model", args.model, "--train", args.train, "--epochs", "1",
                              "--batch-size", str(args.batch_size), "--micro-batch-size", str(args.batch_size),
                              "--list-size", str(args.list_size), "--max-length", str(args.max_length),
                              "--seed", "42", "--max-steps", str(args.steps), "--device", f"cuda:{args.gpu}", "--bf16"],
                             capture_output=True, text=True, timeout=args.timeout)
    if run.returncode != 0:
        raise RuntimeError(f"train_stage2_reference exited {run.returncode}: {run.stderr.strip()[-2000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    return {"lists_per_second": result.get("lists_per_second_after_first_step", result["lists_per_second"]),
            "steps": result["steps"], "peak_memory_bytes": memory.peak_bytes,
            "torch_max_memory_allocated": result.get("peak_memory_bytes"), "device_name": result.get("device_name")}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="a ListConRanker directory (both start from it)")
    p.add_argument("--train", required=True)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--list-size", type=int, default=20)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--gpu", type=int, default=0)
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "listconranker"))
    p.add_argument("--profile", action="store_true",
                   help="also run ours with train --profile (--profile-steps steps) and report each phase's and each "
                        "GPU kernel's mean seconds and the memory pool's peak from that run; lists/s stays the "
                        "unprofiled run's (a profiled step waits for the GPU at each phase)")
    p.add_argument("--profile-steps", type=int, default=3, help="steps of the profiled run (the first not counted)")
    p.add_argument("--micro-batch-size", type=int, default=0, help="ours: lists a micro-batch (default: the batch)")
    p.add_argument("--extra", default="", help="more options for our train (e.g. --recompute-layers)")
    p.add_argument("--pytorch-from", help="an earlier run's output (JSON) whose PyTorch figures to reuse")
    p.add_argument("--timeout", type=int, default=600)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="lcr-stage2-bench-") as work:
        swift = ours(args, work)
        if args.profile:
            profiled = ours(args, work, profile=True)
            swift.update({key: value for key, value in profiled.items()
                          if key not in ("lists_per_second", "steps", "first_step_seconds", "peak_memory_bytes", "losses")})
            swift["profiled_lists_per_second"] = profiled["lists_per_second"]
            swift["profiled_steps"] = profiled["steps"]
    if args.pytorch_from:
        with open(args.pytorch_from) as f:
            torch = dict(json.loads(f.read().strip().splitlines()[-1])["pytorch_bf16"], reused=True)
    else:
        torch = pytorch(args)
    print(json.dumps({"batch_size": args.batch_size, "list_size": args.list_size, "steps": args.steps,
                      "micro_batch_size": args.micro_batch_size or args.batch_size,
                      "ours": swift, "pytorch_bf16": torch,
                      "lists_per_second_ratio": swift["lists_per_second"] / torch["lists_per_second"],
                      "peak_memory_ratio": swift["peak_memory_bytes"] / max(1, torch["peak_memory_bytes"])}))


if __name__ == "__main__":
    main()
