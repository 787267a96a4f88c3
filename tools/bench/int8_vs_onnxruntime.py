"""int8 on the CPU (issue 28): our int8 against our fp32 and against ONNX Runtime's dynamic int8.

One list of 1 + 20 passages of about 160 tokens (the `c20` list of compare_pytorch.py), full-size
model, 2 threads, in one run on this machine, passes interleaved round by round (which side goes
first rotates): this machine's speed drifts by tens of percent within seconds, so each round gives
ratios of passes run side by side and the medians of those ratios are reported.

- ours int8 and ours fp32: two warmed-up `listconranker bench rerank --paced` processes (the whole
  rerank: tokenizing, encoder, list head);
- ONNX Runtime int8: the same BERT encoder exported to ONNX, fused by
  `onnxruntime.transformers.optimizer` (model_type bert), then `quantize_dynamic` (int8 weights,
  ONNX Runtime's defaults: per-tensor scales, u8 activations), `intra_op_num_threads=2`. It
  encodes the 21 texts in one batch padded to the longest, as Optimum and text-embeddings-inference
  do, and mean-pools; the list head is not run on this side (it is under 1% of a pass), so this
  side does slightly less work than ours.

Two steps, because the export is not part of what is timed (run it under the shared lock, the
timing under the exclusive one):

  flock -s /tmp/lcr-cpu.lock python3 tools/bench/int8_vs_onnxruntime.py prepare --model /tmp/full-model --onnx-dir /tmp/full-model-onnx
  flock /tmp/lcr-cpu.lock python3 tools/bench/int8_vs_onnxruntime.py time --model /tmp/full-model --onnx-dir /tmp/full-model-onnx --rounds 8

Needs: pip install torch==2.13.0+cpu transformers onnx onnxruntime; swift build -c release.
"""
import argparse
import json
import os
import random
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
from compare_pytorch import make_lists, median  # noqa: E402
from paced_bench import PacedBench  # noqa: E402


def prepare(model, onnx_dir):
    """Exports the encoder, fuses it, quantises it: onnx_dir/encoder-int8.onnx."""
    import torch
    from transformers import BertModel
    from onnxruntime.transformers import optimizer

    os.makedirs(onnx_dir, exist_ok=True)
    torch.set_num_threads(2)
    bert = BertModel.from_pretrained(model, add_pooling_layer=False, attn_implementation="eager").eval()
    raw = os.path.join(onnx_dir, "encoder.onnx")
    fused_path = os.path.join(onnx_dir, "encoder-fused.onnx")
    if os.path.exists(fused_path):   # each step takes minutes here: a rerun only quantises again
        return quantize(fused_path, onnx_dir)
    ids = torch.ones(2, 16, dtype=torch.long)

    class Encoder(torch.nn.Module):  # keyword arguments: transformers' forward takes many more
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    with torch.no_grad():
        torch.onnx.export(Encoder(bert), (ids, torch.ones_like(ids), torch.zeros_like(ids)), raw,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"],
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in
                                        ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
                          opset_version=17, dynamo=False)
    c = bert.config
    fused = optimizer.optimize_model(raw, model_type="bert", num_heads=c.num_attention_heads,
                                     hidden_size=c.hidden_size, opt_level=1)
    fused.save_model_to_file(fused_path, use_external_data_format=True)   # over 2 GB of protobuf otherwise
    print("fusions:", json.dumps(fused.get_fused_operator_statistics()))
    quantize(fused_path, onnx_dir)


def quantize(fused_path, onnx_dir):
    """ONNX Runtime's dynamic quantisation with its defaults (int8 weights, per-tensor)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    out = os.path.join(onnx_dir, "encoder-int8.onnx")
    # The fused operators (com.microsoft domain) defeat ONNX shape inference: the tensors it cannot
    # type are float, as the quantiser's own error message advises.
    quantize_dynamic(fused_path, out, weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    print("wrote", out)


class OrtEncoder:
    def __init__(self, model, onnx_path, threads):
        import numpy as np
        import onnxruntime as ort
        from transformers import BertTokenizerFast
        self.np = np
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = BertTokenizerFast.from_pretrained(model)

    def pooled(self, texts):
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="np")
        feed = {k: v.astype(self.np.int64) for k, v in enc.items() if k in self.inputs}
        hidden = self.session.run(None, feed)[0]
        mask = enc["attention_mask"][..., None].astype(self.np.float32)
        return (hidden * mask).sum(1) / mask.sum(1)

    def timed_pass(self, texts):
        start = time.perf_counter()
        pooled = self.pooled(texts)
        return time.perf_counter() - start, pooled


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def time_all(args):
    rng = random.Random(17)
    lists, _ = make_lists("c20", rng)
    path = "/tmp/lcr-bench-int8-c20.jsonl"
    with open(path, "w") as f:
        for l in lists:
            f.write(json.dumps({"query": l[0], "passages": l[1:]}, ensure_ascii=False) + "\n")
    texts = lists[0]
    ort_side = OrtEncoder(args.model, os.path.join(args.onnx_dir, "encoder-int8.onnx"), args.threads)
    ort_side.timed_pass(texts)  # warm-up, as the Swift processes have
    ours = {p: PacedBench(args.binary, args.model, path, p, f"{path}.{p}.scores") for p in ("int8", "fp32")}
    sides = ["int8", "fp32", "ort"]
    times = {s: [] for s in sides}
    scores = {}
    tokens = None
    for r in range(args.rounds):
        order = sides[r % 3:] + sides[:r % 3]   # which side goes first rotates
        for side in order:
            if side == "ort":
                t, _ = ort_side.timed_pass(texts)
            else:
                report, scores[side] = ours[side].timed_pass()
                t, tokens = report["seconds"], report["tokens"]
            times[side].append(t)
    for bench in ours.values():
        bench.close()
    ratio = lambda a, b: [x / y for x, y in zip(times[a], times[b])]
    fp32_over_int8, ort_over_int8 = ratio("fp32", "int8"), ratio("ort", "int8")
    diff = max(abs(a - b) for x, y in zip(scores["int8"], scores["fp32"]) for a, b in zip(x, y))
    print(json.dumps({
        "cpu": cpu_name(), "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "(all)"),
        "threads": args.threads, "rounds": args.rounds, "tokens": tokens,
        "ours_int8_seconds": round(median(times["int8"]), 3), "ours_fp32_seconds": round(median(times["fp32"]), 3),
        "ort_int8_seconds": round(median(times["ort"]), 3),
        "int8_speedup_over_our_fp32": round(median(fp32_over_int8), 2),
        "int8_speedup_over_ort_int8": round(median(ort_over_int8), 2),
        "fastest": {s: round(min(times[s]), 3) for s in sides},
        "ratios_fp32_over_int8": [round(x, 2) for x in fp32_over_int8],
        "ratios_ort_over_int8": [round(x, 2) for x in ort_over_int8],
        "all": {s: [round(t, 2) for t in times[s]] for s in sides},
        "max_score_difference_int8_vs_fp32": diff}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("step", choices=["prepare", "time"])
    p.add_argument("--model", required=True)
    p.add_argument("--onnx-dir", required=True)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "listconranker"))
    args = p.parse_args()
    if args.step == "prepare":
        prepare(args.model, args.onnx_dir)
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        time_all(args)


if __name__ == "__main__":
    main()
