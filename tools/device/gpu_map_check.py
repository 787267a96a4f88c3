"""The manpages-zh recipe on a device (issue 30's quality check): stage 1, then stage 2 from its output,
each evaluated on the dev queries every epoch, from the package that `manpages_package.py` makes
(m3e-small rounded to bf16, the task's texts). On a GPU in bf16 the final dev MAP must be within 1
point of the CPU trainer's fp32 run of the same recipe from the same package, whose figures
`manpages_cpu_baseline.json` holds: that file is this script's own report of a CPU run
(`--device cpu --precision fp32`, BENCHMARKS.md). Writes OUT/gpu-map-report.json; also each run's
lists per second, the GPU's figure for m3e-small on real text.

    tools/device/gpu-map-check.sh                     # on the GPU machine (carry .device and .device-map)
    python3 tools/device/gpu_map_check.py --binary .build/release/listconranker --out /tmp/mp-cpu \\
        --device cpu --precision fp32                 # the CPU baseline, here
"""
import argparse
import json
import os
import subprocess
import sys

from step_report import StepReport   # this folder: the script's own, first on the path

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = os.path.join(HERE, "manpages_cpu_baseline.json")
# The recipe of README's "Training" (BENCHMARKS.md, "Real text: manpages-zh"), seed 42.
STAGE1 = ["--epochs", "8", "--batch-size", "16", "--micro-batch-size", "16", "--list-size", "20",
          "--learning-rate", "2e-4", "--seed", "42"]
STAGE2 = ["--epochs", "1", "--batch-size", "16", "--micro-batch-size", "4", "--list-size", "8",
          "--max-length", "128", "--learning-rate", "2e-5", "--seed", "42"]


def run_stage(args, stage, source, work):
    """One stage of the recipe; its evaluations and steps from its log."""
    output, log = os.path.join(work, f"stage{stage}"), os.path.join(work, f"stage{stage}.jsonl")
    task = os.path.join(work, "package", "task")
    command = [args.binary, "train", "--stage", str(stage), *source, "--data", os.path.join(task, "train.jsonl"),
               "--eval-data", os.path.join(task, "dev.jsonl"), "--output", output, "--log", log,
               "--device", args.device, "--precision", args.precision,
               "--feature-cache", os.path.join(work, "features"), *(STAGE1 if stage == 1 else STAGE2)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    if run.returncode != 0:
        raise RuntimeError(f"stage {stage} exited {run.returncode}: {run.stderr.strip()[-2000:]}")
    with open(log) as f:
        entries = [json.loads(line) for line in f]
    evaluations = [e for e in entries if e.get("event") == "eval"]
    steps = [e for e in entries if e.get("event") == "step"]
    later = steps[1:] or steps
    return output, {
        "command": " ".join(command[1:]),
        "final_map": evaluations[-1]["map"], "final_mrr_at_10": evaluations[-1]["mrr_at_10"],
        "best_map": max(e["map"] for e in evaluations),
        "maps_by_epoch": [round(e["map"], 2) for e in evaluations],
        "steps": len(steps),
        "lists_per_second": sum(s["lists"] for s in later) / max(sum(s["seconds"] for s in later), 1e-9),
        "last_loss": steps[-1]["loss"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--package", default=os.path.join(HERE, "..", "..", ".device-map", "manpages-m3e.tar"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--work", default="/tmp/mp-check", help="where the package is unpacked and the runs write")
    parser.add_argument("--timeout", type=int, default=3 * 3600, help="seconds a stage may take")
    args = parser.parse_args()
    report = StepReport(os.path.join(args.out, "gpu-map-report.json"))
    report["device"], report["precision"] = args.device, args.precision
    baseline = None
    if os.path.exists(BASELINE):
        with open(BASELINE) as f:
            baseline = json.load(f)
    report["cpu_baseline"] = baseline and {k: baseline["steps"][k].get("final_map") for k in baseline["steps"]
                                           if "final_map" in baseline["steps"][k]}
    state = {}

    def unpack():
        run = subprocess.run([sys.executable, os.path.join(HERE, "manpages_package.py"), "unpack", "--package",
                              args.package, "--out", os.path.join(args.work, "package")],
                             capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            raise RuntimeError(run.stderr.strip()[-2000:])
        return json.loads(run.stdout.strip().splitlines()[-1])

    def stage(number):
        source = ["--encoder", os.path.join(args.work, "package", "model")] if number == 1 else ["--model", state[1]]
        state[number], result = run_stage(args, number, source, args.work)
        cpu = baseline and baseline["steps"].get(f"stage {number}", {}).get("final_map")
        if cpu is not None and args.device != "cpu":
            # Within 1 point of the CPU trainer's MAP (×100), or above it.
            result.update({"cpu_final_map": cpu, "map_difference": result["final_map"] - cpu,
                           "pass": result["final_map"] >= cpu - 1.0})
        return result

    report.step("unpack the package", unpack)
    report.step("stage 1", lambda: stage(1))
    if 1 in state:
        report.step("stage 2", lambda: stage(2))
    report.summary()


if __name__ == "__main__":
    main()
