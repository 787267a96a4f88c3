"""Stage-2 training in PyTorch: the same recipe as `listconranker train --stage 2`, to compare dev
MAP (and speed) with the Swift trainer on the same data, starting from the same checkpoint.

Same as stage 1's reference (train_stage1_reference.py, whose sampling, loss, schedule and
metrics this script imports): data files, list sampling rule and draws, Circle Loss, AdamW with
the same decay rule (biases and LayerNorms exempt; BERT's embeddings decay), linear warm-up then
decay, clipping by one global norm over the encoder and the head, gradient accumulation, epochs.
Here the encoder trains too: BertModel in training mode (dropout from its config), mean pooling
over each text's tokens, texts padded per micro-batch (attention masked) as transformers runs them.
Evaluation: BertModel and the head in eval mode on each dev list.

    python3 tools/reference/train_stage2_reference.py --model /tmp/mp-runs/b16-s42 \\
        --train train.jsonl --dev dev.jsonl --epochs 1 --batch-size 16 --micro-batch-size 4 \\
        --list-size 8 --max-length 128 --learning-rate 2e-5 --seed 42 --threads 2

On a GPU (the speed peer of `train --stage 2 --device cuda`, tools/bench/stage2_vs_pytorch.py):
`--device cuda --bf16 --max-steps N` trains there under bf16 autocast with fused AdamW, and the
result adds the peak of torch.cuda.max_memory_allocated and the lists/s of the steps after the first.
"""
import argparse
import json
import os
import sys
import time

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_stage1_reference import (Head, average_precision, circle_loss, load_jsonl,  # noqa: E402
                                    optimizer_and_schedule, reciprocal_rank, sample_list, shuffle, stream)


class Model(nn.Module):
    def __init__(self, directory, heads):
        super().__init__()
        self.bert = AutoModel.from_pretrained(directory, attn_implementation="eager")
        lin = torch.load(os.path.join(directory, "linear_in_embedding.pt"), weights_only=True)
        lt = torch.load(os.path.join(directory, "list_transformer.pt"), weights_only=True)
        width, hidden = lin["weight"].shape
        ffn = lt["list_transformer.layers.0.linear1.weight"].shape[0]
        self.head = Head(hidden, width, ffn, heads, 2)
        self.head.linear_in_embedding.load_state_dict(lin)
        self.head.list_transformer.load_state_dict(lt)

    def pooled(self, inputs):
        hidden = self.bert(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1)


@torch.no_grad()
def evaluate(model, tokenizer, dev, max_length):
    model.eval()
    device = next(model.parameters()).device
    aps, rrs = [], []
    for sample in dev:
        if not sample["positive"] or not sample["negative"]:
            continue
        texts = [sample["query"]] + sample["positive"] + sample["negative"]
        inputs = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt").to(device)
        scores = torch.sigmoid(model.head(model.pooled(inputs), [len(texts) - 1])).tolist()
        relevant = [True] * len(sample["positive"]) + [False] * len(sample["negative"])
        aps.append(average_precision(relevant, scores))
        rrs.append(reciprocal_rank(relevant, scores))
    model.train()
    return 100 * sum(aps) / len(aps), 100 * sum(rrs) / len(rrs)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a ListConRanker directory (e.g. a stage-1 output)")
    p.add_argument("--train", required=True)
    p.add_argument("--dev")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--micro-batch-size", type=int, default=4)
    p.add_argument("--list-size", type=int, default=20)
    p.add_argument("--max-positives", type=int)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--dropout", type=float, default=0.1, help="the list transformer's dropout")
    p.add_argument("--gamma", type=float, default=32)
    p.add_argument("--margin", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda: where the model trains")
    p.add_argument("--bf16", action="store_true", help="autocast the forward to bf16 (on cuda), as PyTorch users train")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (speed runs)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    config = json.load(open(os.path.join(a.model, "config.json")))
    model = Model(a.model, config["num_attention_heads"])
    device = torch.device(a.device)
    model.to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    for layer in model.head.list_transformer.list_transformer.layers:
        layer.dropout.p = layer.dropout1.p = layer.dropout2.p = a.dropout
        layer.self_attn.dropout = a.dropout
    train = [s for s in load_jsonl(a.train) if s["positive"] and s["negative"]]
    dev = load_jsonl(a.dev) if a.dev else None
    max_positives = min(a.max_positives or max(1, a.list_size // 2), a.list_size - 1)
    optimizer, scheduler, steps_per_epoch = optimizer_and_schedule(model.named_parameters(), len(train), a,
                                                                   fused=device.type == "cuda")
    results = {"epochs": []}
    if dev:
        results["start"] = evaluate(model, tokenizer, dev, a.max_length)
        print(f"start: MAP {results['start'][0]:.2f} MRR@10 {results['start'][1]:.2f}", file=sys.stderr)
    model.train()
    train_seconds, train_lists, train_tokens = 0.0, 0, 0
    later_seconds, later_lists = 0.0, 0                 # the steps after the first (warm-up excluded)
    step = 0
    for epoch in range(a.epochs):
        if a.max_steps is not None and step >= a.max_steps:
            break
        order = list(range(len(train)))
        shuffle(order, stream(a.seed, 1, epoch))
        for b in range(steps_per_epoch):
            if a.max_steps is not None and step >= a.max_steps:
                break
            sync()
            began = time.perf_counter()
            queries = order[b * a.batch_size:(b + 1) * a.batch_size]
            optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for m in range(0, len(queries), a.micro_batch_size):
                texts, counts, relevant = [], [], []
                for q in queries[m:m + a.micro_batch_size]:
                    sample = train[q]
                    passages = sample_list(sample, q, epoch, a.seed, a.list_size, max_positives)
                    texts.append(sample["query"])
                    for positive, i in passages:
                        texts.append(sample["positive" if positive else "negative"][i])
                        relevant.append(positive)
                    counts.append(len(passages))
                inputs = tokenizer(texts, padding=True, truncation=True, max_length=a.max_length,
                                   return_tensors="pt").to(device)
                train_tokens += int(inputs["attention_mask"].sum())
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.bf16):
                    logits = model.head(model.pooled(inputs), counts)
                loss = circle_loss(logits.float(), torch.tensor(relevant, device=device), counts, a.gamma, a.margin,
                                   len(queries))
                loss.backward()
                step_loss += loss.item()
            norm = torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]],
                                                  a.max_grad_norm)
            optimizer.step()
            scheduler.step()
            sync()
            step += 1
            train_seconds += time.perf_counter() - began
            train_lists += len(queries)
            if step > 1:
                later_seconds += time.perf_counter() - began
                later_lists += len(queries)
            print(json.dumps({"step": step, "loss": step_loss, "grad_norm": float(norm),
                              "seconds": time.perf_counter() - began}), file=sys.stderr, flush=True)
        entry = {"epoch": epoch + 1}
        if dev:
            entry["map"], entry["mrr_at_10"] = evaluate(model, tokenizer, dev, a.max_length)
            print(f"epoch {epoch + 1}: MAP {entry['map']:.2f} MRR@10 {entry['mrr_at_10']:.2f}", file=sys.stderr)
        results["epochs"].append(entry)
    results["lists_per_second"] = train_lists / train_seconds
    results["steps"] = step
    if later_lists:
        results["lists_per_second_after_first_step"] = later_lists / later_seconds
    if device.type == "cuda":
        results["peak_memory_bytes"] = torch.cuda.max_memory_allocated()
        results["device_name"] = torch.cuda.get_device_name()
    results["tokens_per_second"] = train_tokens / train_seconds
    results["threads"] = torch.get_num_threads()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
