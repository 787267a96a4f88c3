#!/usr/bin/env python3
"""Stage-1 training in PyTorch: the same recipe as `listconranker train --stage 1`, to compare
dev MAP and speed against the Swift trainer on the same cached features.

Same: data files (eval JSON lines), the list sampling rule *and draws* (SplitMix64 streams keyed
by seed/epoch/query and the same Fisher–Yates, as RandomStreams.swift and ListSampler.swift),
Circle Loss (α detached, mean over lists), AdamW (decay on matrices and the tag embedding; biases
and LayerNorms exempt), linear warm-up (ceil(ratio · steps)) then linear decay, clipping by global
norm, dropout 0.1 in nn.TransformerEncoderLayer, gradient accumulation over micro-batches, epochs.
Different: the head's initial draws (torch's own init, seeded by torch.manual_seed) and dropout
masks (torch's generator). Features: the Swift trainer's cache (`--feature-cache ROOT/<identity>`:
index.json, keys.txt and vectors.f32), so BERT is not run here at all.

    python3 tools/reference/train_stage1_reference.py --train train.jsonl --dev dev.jsonl \
        --features CACHE/<identity> --epochs 4 --batch-size 32 --micro-batch-size 32 --list-size 20 \
        --learning-rate 1e-4 --seed 42 --heads 8
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from listconranker_reference import ListTransformer  # noqa: E402

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _mix_state(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def mix(v):
    return _mix_state((v + GOLDEN) & M64)


class SeededGenerator:
    """SplitMix64, as SeededGenerator.swift."""

    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state = (self.state + GOLDEN) & M64
        return _mix_state(self.state)


def stream(seed, purpose, *counters):
    h = mix(seed ^ 0x5851F42D4C957F2D)
    h = mix(h ^ purpose)
    for c in counters:
        h = mix(h ^ c)
    return SeededGenerator(h)


def shuffle(items, generator):
    for i in range(len(items) - 1, 0, -1):
        j = generator.next() % (i + 1)
        items[i], items[j] = items[j], items[i]


def sample_list(sample, query, epoch, seed, list_size, max_positives):
    g = stream(seed, 2, epoch, query)
    positives = list(range(len(sample["positive"])))
    shuffle(positives, g)
    negatives = list(range(len(sample["negative"])))
    shuffle(negatives, g)
    k = min(len(positives), max_positives, list_size - 1)
    n = min(len(negatives), list_size - k)
    passages = [(True, i) for i in positives[:k]] + [(False, i) for i in negatives[:n]]
    shuffle(passages, g)
    return passages


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Features:
    def __init__(self, folder):
        index = json.load(open(os.path.join(folder, "index.json")))
        self.hidden = index["hidden"]
        if "texts" in index:  # the layout before keys.txt
            keys = index["texts"]
        else:  # keys.txt: one 64-digit SHA-256 and a newline per row; a partial last line does not count
            with open(os.path.join(folder, "keys.txt"), "rb") as f:
                data = f.read()
            keys = [data[i:i + 64].decode("ascii") for i in range(0, len(data) // 65 * 65, 65)]
        vectors = np.fromfile(os.path.join(folder, "vectors.f32"), dtype="<f4")
        self.vectors = torch.from_numpy(vectors[: len(keys) * self.hidden].reshape(-1, self.hidden).copy())
        self.rows = {key: i for i, key in enumerate(keys)}

    def row(self, text):
        return self.rows[hashlib.sha256(text.encode("utf-8")).hexdigest()]


class Head(nn.Module):
    def __init__(self, hidden, width, ffn, heads, layers):
        super().__init__()
        self.linear_in_embedding = nn.Linear(hidden, width)
        self.list_transformer = ListTransformer(layers, heads, width, ffn)

    def forward(self, pooled, passage_counts):
        return self.list_transformer(self.linear_in_embedding(pooled), passage_counts)


def circle_loss(logits, relevant, counts, gamma, margin, divisor):
    total = logits.new_zeros(())
    start = 0
    for n in counts:
        s = torch.sigmoid(logits[start:start + n])
        r = relevant[start:start + n]
        start += n
        sp, sn = s[r], s[~r]
        ap = torch.clamp_min(1 + margin - sp.detach(), 0)
        an = torch.clamp_min(sn.detach() + margin, 0)
        lp = -gamma * ap * (sp - (1 - margin))
        ln = gamma * an * (sn - margin)
        total = total + nn.functional.softplus(torch.logsumexp(ln, 0) + torch.logsumexp(lp, 0))
    return total / divisor


def average_precision(relevant, scores):
    """scikit-learn's average_precision_score, ties as one threshold (RankingMetrics.swift)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    total = sum(relevant)
    tp = seen = 0
    previous = result = 0.0
    i = 0
    while i < len(order):
        threshold = scores[order[i]]
        while i < len(order) and scores[order[i]] == threshold:
            tp += relevant[order[i]]
            seen += 1
            i += 1
        recall = tp / total
        result += (recall - previous) * tp / seen
        previous = recall
    return result


def reciprocal_rank(relevant, scores, cutoff=10):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable
    for rank, i in enumerate(order[:cutoff]):
        if relevant[i]:
            return 1.0 / (rank + 1)
    return 0.0


@torch.no_grad()
def evaluate(head, dev, features):
    head.eval()
    aps, rrs = [], []
    for sample in dev:
        if not sample["positive"] or not sample["negative"]:
            continue
        texts = [sample["query"]] + sample["positive"] + sample["negative"]
        pooled = features.vectors[[features.row(t) for t in texts]]
        scores = torch.sigmoid(head(pooled, [len(texts) - 1])).tolist()
        relevant = [True] * len(sample["positive"]) + [False] * len(sample["negative"])
        aps.append(average_precision(relevant, scores))
        rrs.append(reciprocal_rank(relevant, scores))
    head.train()
    return 100 * sum(aps) / len(aps), 100 * sum(rrs) / len(rrs)


def cosine_baseline(dev, features):
    """MAP and MRR@10 of ranking passages by the cosine of their mean-pooled vectors with the query's."""
    aps, rrs = [], []
    for sample in dev:
        if not sample["positive"] or not sample["negative"]:
            continue
        texts = [sample["query"]] + sample["positive"] + sample["negative"]
        v = nn.functional.normalize(features.vectors[[features.row(t) for t in texts]], dim=1)
        scores = (v[1:] @ v[0]).tolist()
        relevant = [True] * len(sample["positive"]) + [False] * len(sample["negative"])
        aps.append(average_precision(relevant, scores))
        rrs.append(reciprocal_rank(relevant, scores))
    return 100 * sum(aps) / len(aps), 100 * sum(rrs) / len(rrs)


def optimizer_and_schedule(named_parameters, samples, a, fused=False):
    """AdamW (biases and LayerNorms without decay, as ParameterLayout.decays) and the linear warm-up
    then decay of LinearWarmupSchedule.swift; the list head's unused template copy and BERT's pooler
    are not trained. Returns (optimizer, scheduler, steps per epoch)."""
    decay, no_decay = [], []
    for name, param in named_parameters:
        if "list_transformer_layer." in name or name.startswith("bert.pooler."):
            continue
        exempt = name.endswith("bias") or any(k in name for k in ("norm1.", "norm2.", "layerNorm.", "LayerNorm."))
        (no_decay if exempt else decay).append(param)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=a.learning_rate,
                                  **({"fused": True} if fused else {}))
    steps_per_epoch = math.ceil(samples / a.batch_size)
    total = steps_per_epoch * a.epochs
    warmup = math.ceil(total * a.warmup_ratio)

    def rate(step):
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, rate), steps_per_epoch


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True)
    p.add_argument("--dev")
    p.add_argument("--features", required=True, help="the Swift feature cache folder of the encoder (holds index.json)")
    p.add_argument("--heads", type=int, required=True, help="the encoder's num_attention_heads")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--micro-batch-size", type=int, default=64)
    p.add_argument("--list-size", type=int, default=20)
    p.add_argument("--max-positives", type=int)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--gamma", type=float, default=32)
    p.add_argument("--margin", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--width", type=int, default=1792)
    p.add_argument("--ffn", type=int, default=2048)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda: where the head trains (the speed peer of train --device)")
    p.add_argument("--bf16", action="store_true", help="autocast the forward to bf16 (on cuda), as PyTorch users train")
    p.add_argument("--cosine", action="store_true",
                   help="only print the encoder's cosine-similarity baseline on --dev (how m3e is used) and exit")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    features = Features(a.features)
    if a.cosine:
        print(json.dumps(dict(zip(("map", "mrr_at_10"), cosine_baseline(load_jsonl(a.dev), features)))))
        return
    train = [s for s in load_jsonl(a.train) if s["positive"] and s["negative"]]
    dev = load_jsonl(a.dev) if a.dev else None
    max_positives = min(a.max_positives or max(1, a.list_size // 2), a.list_size - 1)
    head = Head(features.hidden, a.width, a.ffn, a.heads, 2)
    for module in head.modules():
        if isinstance(module, nn.Dropout):
            module.p = a.dropout
    for layer in head.list_transformer.list_transformer.layers:
        layer.dropout.p = layer.dropout1.p = layer.dropout2.p = a.dropout
        layer.self_attn.dropout = a.dropout
    device = torch.device(a.device)
    head.to(device)
    features.vectors = features.vectors.to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    optimizer, scheduler, steps_per_epoch = optimizer_and_schedule(head.named_parameters(), len(train), a,
                                                                   fused=device.type == "cuda")
    results = {"epochs": []}
    if dev:
        results["untrained"] = evaluate(head, dev, features)
        print(f"untrained: MAP {results['untrained'][0]:.2f} MRR@10 {results['untrained'][1]:.2f}", file=sys.stderr)
    head.train()
    train_seconds, train_lists = 0.0, 0
    step = 0
    for epoch in range(a.epochs):
        order = list(range(len(train)))
        shuffle(order, stream(a.seed, 1, epoch))
        for b in range(steps_per_epoch):
            began = time.perf_counter()
            queries = order[b * a.batch_size:(b + 1) * a.batch_size]
            optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for m in range(0, len(queries), a.micro_batch_size):
                rows, counts, relevant = [], [], []
                for q in queries[m:m + a.micro_batch_size]:
                    sample = train[q]
                    passages = sample_list(sample, q, epoch, a.seed, a.list_size, max_positives)
                    rows.append(features.row(sample["query"]))
                    for positive, i in passages:
                        rows.append(features.row(sample["positive" if positive else "negative"][i]))
                        relevant.append(positive)
                    counts.append(len(passages))
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.bf16):
                    logits = head(features.vectors[rows], counts)
                loss = circle_loss(logits.float(), torch.tensor(relevant, device=device), counts, a.gamma, a.margin,
                                   len(queries))
                loss.backward()
                step_loss += loss.item()
            norm = torch.nn.utils.clip_grad_norm_(head.parameters(), a.max_grad_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            sync()
            train_seconds += time.perf_counter() - began
            train_lists += len(queries)
            print(json.dumps({"step": step, "loss": step_loss, "grad_norm": float(norm)}), file=sys.stderr)
        entry = {"epoch": epoch + 1}
        if dev:
            entry["map"], entry["mrr_at_10"] = evaluate(head, dev, features)
            print(f"epoch {epoch + 1}: MAP {entry['map']:.2f} MRR@10 {entry['mrr_at_10']:.2f}", file=sys.stderr)
        results["epochs"].append(entry)
    results["lists_per_second"] = train_lists / train_seconds
    results["threads"] = torch.get_num_threads()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
