"""Stage 2's encoder work against PyTorch: tokens per second of the training forward + backward
of one list (1 + 20 passages of about 160 tokens), same model, same machine, same run (issue 15).

  swift build -c release --product listconranker
  python3 tools/bench/encoder_backward_vs_pytorch.py --model .models/m3e-small [--rounds 3]
  python3 tools/bench/encoder_backward_vs_pytorch.py --model /tmp/full-model --rounds 1 \
      --recomputation none,attention,layers   # BERT-large, each mode against the same PyTorch pass

Both sides: the encoder in training mode (dropout from the config), mean pooling over each text's
tokens, loss Σ pooled ⊙ R, backward to every encoder parameter. PyTorch pads the list to its
longest text (how a BertModel batch runs, attention masked); ours packs the texts unpadded.
Both fp32 with torch.set_num_threads(--threads). Each round runs `listconranker bench
encoder-backward` once per --recomputation mode (its median of --repeats passes after a
warm-up), then PyTorch's median of the same number of passes; per mode the ratio of the
medians over rounds is reported, with each side's peak resident memory.
"""
import argparse
import ctypes
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, os.path.dirname(__file__))
from compare_pytorch import make_lists  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def pytorch_seconds(model, tokenizer, texts, repeats, max_length):
    inputs = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    mask = inputs["attention_mask"].unsqueeze(-1).float()
    r = torch.rand(len(texts), model.config.hidden_size, generator=torch.Generator().manual_seed(7)) - 0.5
    model.train()

    def step():
        model.zero_grad(set_to_none=False)
        hidden = model(**inputs).last_hidden_state
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        (pooled * r).sum().backward()

    step()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return statistics.median(times), int(inputs["attention_mask"].sum())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--recomputation", default="none",
                   help="comma-separated modes of ours: none (keep everything), attention (--recompute), "
                        "layers (--recompute-layers)")
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "listconranker"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    lists, _ = make_lists("c20", random.Random(7))
    texts = lists[0]
    model = AutoModel.from_pretrained(args.model, attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        f.write(json.dumps({"query": texts[0], "passages": texts[1:]}, ensure_ascii=False) + "\n")
        path = f.name
    flags = {"none": "--no-recompute", "attention": "--recompute", "layers": "--recompute-layers"}
    modes = args.recomputation.split(",")
    unknown = [m for m in modes if m not in flags]
    if unknown:
        p.error(f"unknown --recomputation {unknown}; choose from {sorted(flags)}")
    ours, reports, theirs = {m: [] for m in modes}, {}, []
    try:
        for r in range(args.rounds):
            for mode in modes:
                command = [args.binary, "bench", "encoder-backward", "--model", args.model, "--input", path,
                           "--repeats", str(args.repeats), "--max-length", str(args.max_length), flags[mode]]
                result = subprocess.run(command, check=True, capture_output=True, text=True)
                reports[mode] = json.loads(result.stdout.strip().splitlines()[-1])
                ours[mode].append(reports[mode]["seconds"])
            seconds, tokens = pytorch_seconds(model, tokenizer, texts, args.repeats, args.max_length)
            # Hand PyTorch's freed activations back to the system before the next Swift run: the
            # machine has no swap, and a resident 12 GB would squeeze the next run's memory.
            gc.collect()
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            theirs.append(seconds)
            print(json.dumps({"round": r, "pytorch_seconds": seconds, "pytorch_tokens": tokens,
                              **{f"swift_{m}": {"seconds": reports[m]["seconds"], "peak_mib": reports[m]["peakResidentMiB"],
                                                "saved_activation_mib": reports[m]["savedActivationMiB"]}
                                 for m in modes}}), flush=True)
    finally:
        os.unlink(path)
    t = statistics.median(theirs)
    tokens = reports[modes[0]]["tokens"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"model": args.model, "texts": len(texts), "tokens": tokens,
                      "pytorch_tokens_per_second": tokens / t, "pytorch_peak_mib": peak,
                      **{m: {"swift_tokens_per_second": tokens / statistics.median(ours[m]),
                             "ratio": t / statistics.median(ours[m]), "swift_peak_mib": reports[m]["peakResidentMiB"]}
                         for m in modes}}))

if __name__ == "__main__":
    main()
