"""Every GPU check of the CUDA backend in one go, for a lent GPU machine (../shared/DESIGN.md §10).

The GPU machine has PyTorch and transformers but no Swift: tools/device/package.sh builds the CLI
here into .device/bundle.tar.xz, and tools/device/gpu-check.sh unpacks it there and runs this.
Steps, each timed and recorded even when a later one fails:

1. the full-size random model in the official layout (tools/reference/make_model_fixtures.py full);
2. parity: PyTorch fp32 (TF32 off) against `listconranker --device cuda --precision fp32` on
   1 + 20 passages, a list with ties, duplicates and an over-long text, 8 lists at once, and
   iterative 1 + 100 (bound 1e-4); PyTorch bf16 against ours in bf16 (bound 5e-3, same order);
3. speed, bf16, PyTorch (the official architecture, sdpa attention) against ours on the same GPU:
   1 + 20, 8 × (1 + 20), iterative 1 + 1000, 1 + 1000 from stored vectors, the encoder alone on
   400 texts (tokens/s), with peak GPU memory;
4. the service: 64 clients sending 1 + 20 lists to `listconranker serve --device cuda`, batching
   on and off: lists/s, p50 and p99 latency.

Writes OUT/gpu-report.json and prints a summary. Runs on a CPU machine too, for a dry run of the
script itself: `--swift-device cpu --torch-device cpu --model DIR --quick`.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))

# Chinese characters of about one token each, as compare_pytorch.py writes its lists.
from compare_pytorch import text  # noqa: E402
from step_report import StepReport, full_size_model  # noqa: E402


def make_inputs(rng, quick):
    n = 158
    c20 = [{"query": text(rng, 20), "passages": [text(rng, n) for _ in range(20)]}]
    same = text(rng, n)
    special = [{"query": text(rng, 12), "passages": [same, text(rng, 40), same, text(rng, 700), "短", same]}]
    batch8 = [{"query": text(rng, 20), "passages": [text(rng, rng.randint(118, 198)) for _ in range(20)]}
              for _ in range(2 if quick else 8)]
    i100 = [{"query": text(rng, 20), "passages": [text(rng, 60 if quick else n) for _ in range(30 if quick else 100)]}]
    i1000 = [{"query": text(rng, 20), "passages": [text(rng, n) for _ in range(30 if quick else 1000)]}]
    encoder400 = [{"query": text(rng, 20), "passages": [text(rng, rng.randint(118, 198)) for _ in range(40 if quick else 400)]}]
    return {"c20": c20, "special": special, "batch8": batch8, "i100": i100, "i1000": i1000, "encoder400": encoder400}


def write_jsonl(path, lists):
    with open(path, "w") as f:
        for item in lists:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


class GPUMemoryPeak:
    """Polls nvidia-smi for the GPU's used memory while a step runs (MiB; None without nvidia-smi)."""

    def __init__(self):
        self.peak, self._stop, self._thread = None, False, None

    def __enter__(self):
        def poll():
            while not self._stop:
                try:
                    used = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                          capture_output=True, text=True, timeout=5).stdout.split()
                    if used:
                        self.peak = max(self.peak or 0, int(used[0]))
                except (OSError, subprocess.SubprocessError, ValueError):
                    return
                time.sleep(0.05)
        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()


def swift_bench(args, name, path, precision, *extra, repeats=5):
    keep_scores = "--encoder-only" not in extra
    scores = os.path.join(args.out, f"swift-{name}-{precision}.jsonl")
    cmd = [args.binary, "bench", "rerank", "--model", args.model, "--input", path, "--precision", precision,
           "--device", args.swift_device, "--repeats", str(repeats), *(["--scores-out", scores] if keep_scores else []),
           *extra]
    with GPUMemoryPeak() as memory:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=args.step_timeout)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {run.returncode}: {run.stderr.strip()[-2000:]}")
    report = json.loads(run.stdout.strip().splitlines()[-1])
    report["peakGPUMiB"] = memory.peak
    if keep_scores:
        with open(scores) as f:
            report["scores"] = [json.loads(line)["scores"] for line in f]
    return report


def service_load(args, lists, batching, clients=64, seconds=20):
    """Starts `listconranker serve` on the GPU and has `clients` threads send 1 + 20 lists for
    `seconds`: lists/s and latency percentiles."""
    import http.client
    port = 18000 + (0 if batching == "on" else 1)
    cmd = [args.binary, "serve", "--model", args.model, "--device", args.swift_device, "--precision", "bf16",
           "--port", str(port), "--batching", batching, "--max-concurrent-requests", str(clients * 2), "--cache-mb", "0"]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        health = None
        while time.time() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"serve exited {server.returncode}: {server.stderr.read()[-2000:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/health")
                r = c.getresponse()
                body = r.read()
                if r.status == 200:
                    health = json.loads(body)
                    break
            except OSError:
                pass
            time.sleep(0.5)
        if health is None:
            raise RuntimeError("the service did not become healthy in 180 s")
        bodies = [json.dumps({"query": l["query"], "texts": l["passages"]}, ensure_ascii=False).encode() for l in lists]
        latencies, errors, lock = [], [], threading.Lock()
        stop_at = time.time() + 3 + seconds  # 3 s of warm-up, not counted

        def client(k):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            i = k
            while time.time() < stop_at:
                t0 = time.perf_counter()
                c.request("POST", "/rerank", body=bodies[i % len(bodies)], headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                t1 = time.perf_counter()
                with lock:
                    if r.status != 200:
                        errors.append(r.status)
                    elif time.time() > stop_at - seconds:
                        latencies.append(t1 - t0)
                i += clients
        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 130)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/metrics")
        metrics = c.getresponse().read().decode()
        batch_lines = [line for line in metrics.splitlines() if line.startswith("listconranker_batch_size_requests_")
                       and ("_sum" in line or "_count" in line)]
        latencies.sort()
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else None
        return {"batching": batching, "clients": clients, "health": health, "lists": len(latencies),
                "listsPerSecond": len(latencies) / seconds, "p50": pick(0.5), "p99": pick(0.99),
                "errors": len(errors), "errorStatuses": sorted(set(errors)), "batchMetrics": batch_lines}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def compare(ours, theirs):
    """Max |Δ| over all scores, and whether every list ranks its passages in the same order."""
    flat = [abs(a - b) for x, y in zip(ours, theirs) for a, b in zip(x, y)]
    same_order = all(sorted(range(len(x)), key=lambda i: -x[i]) == sorted(range(len(y)), key=lambda i: -y[i])
                     for x, y in zip(ours, theirs))
    return {"maxAbsDiff": max(flat) if flat else None, "sameOrder": same_order,
            "counts": [len(x) for x in ours] == [len(y) for y in theirs]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default="/tmp/full-model", help="made there when the folder does not exist")
    parser.add_argument("--swift-device", default="cuda")
    parser.add_argument("--torch-device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="small inputs, for a dry run of the script")
    parser.add_argument("--step-timeout", type=int, default=240)
    args = parser.parse_args()
    report = StepReport(os.path.join(args.out, "gpu-report.json"))
    step = report.step

    import torch
    report["torch"] = torch.__version__
    if args.torch_device.startswith("cuda"):
        report["gpu"] = torch.cuda.get_device_name(0)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    step("full-size model", lambda: {"model": full_size_model(args.model)})

    inputs = make_inputs(random.Random(7), args.quick)
    paths = {}
    for name, lists in inputs.items():
        paths[name] = os.path.join(args.out, f"{name}.jsonl")
        write_jsonl(paths[name], lists)

    ours = {}

    def swift(name, precision, *extra, repeats=5):
        def body():
            r = swift_bench(args, name, paths[name], precision, *extra, repeats=repeats)
            ours[(name, precision, extra)] = r
            return {k: r[k] for k in ("seconds", "allSeconds", "loadSeconds", "tokens", "peakGPUMiB", "peakResidentMiB")}
        step(f"swift {name} {precision} {' '.join(extra)}".strip(), body)

    # Ours first: a failure here is the most useful thing the run can report.
    swift("c20", "fp32")
    swift("special", "fp32", repeats=1)
    swift("batch8", "fp32", "--batch", repeats=1)
    swift("i100", "fp32", "--iterative", repeats=1)
    swift("c20", "bf16", repeats=20)
    swift("special", "bf16", repeats=1)
    swift("i100", "bf16", "--iterative", repeats=1)
    swift("batch8", "bf16", "--batch", repeats=20)
    swift("i1000", "bf16", "--iterative", repeats=5)
    swift("i1000", "bf16", "--iterative", "--stored", repeats=20)
    swift("i1000", "bf16", "--stored", repeats=20)
    swift("encoder400", "bf16", "--encoder-only", repeats=10)

    from listconranker_reference import Reranker

    def lists_of(name):
        return [[item["query"]] + item["passages"] for item in inputs[name]]

    def parity(precision, dtype, bound):
        reference = Reranker(args.model, dtype=dtype, device=args.torch_device)
        result = {}
        for name, extra in (("c20", ()), ("special", ()), ("batch8", ("--batch",)), ("i100", ("--iterative",))):
            if (name, precision, extra) not in ours:
                result[name] = {"error": "our run failed"}
                continue
            if extra == ("--iterative",):
                theirs = [reference.iterative_inference(l) for l in lists_of(name)]
            else:
                theirs = reference.compute_score(lists_of(name))
            result[name] = compare(ours[(name, precision, extra)]["scores"], theirs)
        worst = max((r.get("maxAbsDiff") or 0) for r in result.values() if "maxAbsDiff" in r) if result else None
        result["bound"] = bound
        result["pass"] = all("maxAbsDiff" in r and r["maxAbsDiff"] is not None and r["maxAbsDiff"] < bound
                             and r["counts"] for r in result.values() if isinstance(r, dict)) and worst is not None
        del reference
        if args.torch_device.startswith("cuda"):
            torch.cuda.empty_cache()
        return result

    step("parity fp32 (PyTorch fp32, TF32 off; bound 1e-4)", lambda: parity("fp32", torch.float32, 1e-4))
    step("parity bf16 (PyTorch bf16; bound 5e-3)", lambda: parity("bf16", torch.bfloat16, 5e-3))

    def torch_speed():
        from transformers import AutoModel
        reference = Reranker(args.model, dtype=torch.bfloat16, device=args.torch_device)
        # The speed peer runs transformers' default attention (sdpa), as users run it.
        bert = AutoModel.from_pretrained(args.model).to(torch.bfloat16).to(args.torch_device).eval()
        reference.model.bert = bert
        sync = torch.cuda.synchronize if args.torch_device.startswith("cuda") else (lambda: None)

        def timed(fn, repeats):
            fn()
            sync()
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                sync()
                times.append(time.perf_counter() - t0)
            return sorted(times)[len(times) // 2], times

        def encode_400():
            # The official encoder call: the texts padded to the longest, mean pooling over the mask.
            texts = inputs["encoder400"][0]["passages"]
            with torch.inference_mode():
                batch = reference.tokenizer(texts, padding=True, truncation=True, max_length=512,
                                            return_tensors="pt").to(args.torch_device)
                hidden = bert(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                return (hidden * mask).sum(1) / mask.sum(1)

        result = {}
        for name, fn, repeats in (
                ("c20", lambda: reference.compute_score(lists_of("c20")), 20),
                ("batch8", lambda: reference.compute_score(lists_of("batch8")), 20),
                ("i1000", lambda: reference.iterative_inference(lists_of("i1000")[0]), 3),
                ("encoder400", encode_400, 10)):
            if args.torch_device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            median, times = timed(fn, repeats)
            peak = torch.cuda.max_memory_allocated() / 2**20 if args.torch_device.startswith("cuda") else None
            ours_report = ours.get((name, "bf16", {"batch8": ("--batch",), "i1000": ("--iterative",),
                                                   "encoder400": ("--encoder-only",)}.get(name, ())))
            result[name] = {"torchSeconds": median, "torchAll": times, "torchPeakMiB": peak,
                            "oursSeconds": ours_report["seconds"] if ours_report else None,
                            "speedup": (median / ours_report["seconds"]) if ours_report else None}
        return result

    step("speed bf16 against PyTorch bf16 (sdpa)", torch_speed)
    service_lists = [{"query": text(random.Random(k), 20), "passages": [text(random.Random(1000 * k + j), 158) for j in range(20)]}
                     for k in range(8 if args.quick else 64)]
    clients, seconds = (4, 5) if args.quick else (64, 20)
    step("service 64 clients, batching on", lambda: service_load(args, service_lists, "on", clients, seconds))
    step("service 64 clients, batching off", lambda: service_load(args, service_lists, "off", clients, seconds))
    report.summary()


if __name__ == "__main__":
    main()
