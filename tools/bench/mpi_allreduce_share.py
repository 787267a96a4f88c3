#!/usr/bin/env python3
"""What the gradient all-reduce costs a data-parallel step (BENCHMARKS.md, "Data-parallel training (MPI)").

Runs the same stage-2 job three ways on this machine, one after the other, with the same global
batch and seed:
  1. one process (OMP_NUM_THREADS = all cores), the peer;
  2. `mpirun -np 2`, one core per rank, the all-reduce overlapped with the backward (the default);
  3. `mpirun -np 2`, the all-reduce after the backward (`--reduce-after-backward`).
From the runs' JSON-lines logs: median step seconds (the first step, a warm-up, dropped) and the
ranks' `reduce_seconds` — the time a step waited for the sums after its backward. Then the model
for N machines (ring all-reduce): T = 2 (N-1)/N * S / B + 2 (N-1) * buckets * alpha, S the
gradient bytes (double sums: 8 per parameter), B the link's bandwidth.

    flock /tmp/lcr-cpu.lock python3 tools/bench/mpi_allreduce_share.py --binary .build/release/listconranker \
        --model .models/m3e-small --data /tmp/manpages/train.jsonl --steps 6
"""
import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import tempfile


def run(command, env):
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")


def steps(log):
    lines = [json.loads(line) for line in open(log) if line.strip()]
    return [line for line in lines if line.get("event") == "step"]


def parameter_count(output):
    with open(os.path.join(output, "training_state.bin"), "rb") as f:
        data = f.read(16)
        length = struct.unpack("<Q", data[8:16])[0]
        return json.loads(f.read(length))["parameterCount"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=".build/release/listconranker")
    parser.add_argument("--model", default=".models/m3e-small", help="a BERT directory: a new head on it")
    parser.add_argument("--data", required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--micro-batch-size", type=int, default=2)
    parser.add_argument("--list-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--bandwidth-gbit", type=float, default=10.0)
    parser.add_argument("--latency-us", type=float, default=30.0)
    parser.add_argument("--machines", type=int, default=8)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="mpi-bench-")
    common = ["train", "--stage", "2", "--encoder", args.model, "--data", args.data, "--epochs", "1",
              "--batch-size", str(args.batch_size), "--micro-batch-size", str(args.micro_batch_size),
              "--list-size", str(args.list_size), "--max-length", str(args.max_length), "--seed", "5",
              "--stop-after-step", str(args.steps), "--no-recompute"]
    mpirun = ["mpirun", "--oversubscribe", "--allow-run-as-root", "--bind-to", "core", "--mca",
              "btl_vader_single_copy_mechanism", "none", "-x", "OMP_NUM_THREADS=1", "-np", "2"]
    runs = {
        "one process": ([], {"OMP_NUM_THREADS": str(args.cores)}),
        "2 ranks, overlapped": (mpirun, {}),
        "2 ranks, after backward": (mpirun, {}),
    }
    report = {}
    try:
        for name, (prefix, extra) in runs.items():
            output, log = os.path.join(work, name.replace(" ", "_").replace(",", "")), os.path.join(work, name + ".jsonl")
            env = dict(os.environ, **extra)
            flags = ["--reduce-after-backward"] if "after" in name else []
            run(prefix + [args.binary] + common + ["--output", output, "--log", log] + flags, env)
            lines = steps(log)[1:]
            report[name] = {
                "step_s": statistics.median(line["seconds"] for line in lines),
                "reduce_s": statistics.median(line.get("reduce_seconds", 0.0) for line in lines),
                "steps": len(lines),
            }
            count = parameter_count(output)
        report["parameters"] = count
    finally:
        shutil.rmtree(work, ignore_errors=True)

    one, overlapped, after = report["one process"], report["2 ranks, overlapped"], report["2 ranks, after backward"]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"CPU: {cpu}, {args.cores} cores; m3e-small stage 2, batch {args.batch_size} lists of 1 + {args.list_size - 1}, "
          f"micro-batch {args.micro_batch_size}, max length {args.max_length}; medians of {one['steps']} steps")
    for name in ("one process", "2 ranks, overlapped", "2 ranks, after backward"):
        r = report[name]
        share = r["reduce_s"] / r["step_s"] if r["step_s"] else 0
        print(f"  {name:24s} step {r['step_s']:.3f} s, waiting for the all-reduce {r['reduce_s'] * 1000:.1f} ms ({share:.1%})")
    print(f"  2 ranks / 1 process step time: {overlapped['step_s'] / one['step_s']:.2f}x; "
          f"overlap saves {(after['step_s'] - overlapped['step_s']) * 1000:.1f} ms a step "
          f"({after['reduce_s'] * 1000:.1f} -> {overlapped['reduce_s'] * 1000:.1f} ms waited)")

    # The model for N machines on a B Gb/s network.
    gradient_bytes = 8 * report["parameters"]
    bandwidth = args.bandwidth_gbit * 1e9 / 8
    n = args.machines
    buckets = 2 + 4  # head, 4 layers, embeddings (m3e-small)
    transfer = 2 * (n - 1) / n * gradient_bytes / bandwidth + 2 * (n - 1) * buckets * args.latency_us * 1e-6
    print(f"  gradient: {report['parameters']:,} parameters, {gradient_bytes / 1e6:.0f} MB summed in double")
    print(f"  ring all-reduce on {n} machines at {args.bandwidth_gbit:g} Gb/s: {transfer:.3f} s a step")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
