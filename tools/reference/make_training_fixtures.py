"""Goldens for training stage 1 (the list head), computed by PyTorch autograd on the reference
modules of listconranker_reference.py, for the Swift training code to match.

  python tools/reference/make_training_fixtures.py   # writes Tests/ListConRankerTrainingTests/Fixtures/training-goldens.json

Model: the committed tiny ListConRanker (Tests/ListConRankerTests/Fixtures/tiny-model: hidden 16,
list width 24, feed-forward 40, 4 heads, 2 layers). Input: random pooled vectors for a batch of
3 lists of different lengths with mixed relevant/irrelevant passages. Dropout off (eval mode,
gradients on: PyTorch then takes the ordinary, not the fused, TransformerEncoder path).

Recorded:
* logits, per-list Circle Loss (DESIGN §1.4: m 0.25, γ 32, α detached) and the batch mean;
* the gradient of every head parameter (names as in the official files, linear_in_embedding's
  prefixed with `linear_in_embedding.`);
* AdamW (torch.optim.AdamW, weight decay on matrices and the tag embedding, none on biases and
  LayerNorms) with clip_grad_norm_ and transformers' get_linear_schedule_with_warmup, for 3 steps
  that each reuse the recorded gradients (so the optimizer is checked apart from the gradients):
  the learning rate and norm of each step and the parameters after the last;
* the schedule's learning rate for steps 0..7.
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from transformers import get_linear_schedule_with_warmup

sys.path.insert(0, os.path.dirname(__file__))
from listconranker_reference import ListTransformer  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TINY = os.path.join(ROOT, "Tests", "ListConRankerTests", "Fixtures", "tiny-model")
OUT = os.path.join(ROOT, "Tests", "ListConRankerTrainingTests", "Fixtures", "training-goldens.json")

MARGIN, GAMMA = 0.25, 32.0
LIST_LENGTHS = [5, 3, 7]                       # rows per list, query included
RELEVANT = [[1, 0, 1, 0], [0, 1], [1, 0, 0, 1, 0, 0]]
PEAK_LR, WARMUP, TOTAL, WEIGHT_DECAY, STEPS = 1e-2, 2, 6, 0.1, 3
BETAS, EPS = (0.9, 0.999), 1e-8


def load_head(directory):
    lin_state = torch.load(os.path.join(directory, "linear_in_embedding.pt"), weights_only=True)
    lt_state = torch.load(os.path.join(directory, "list_transformer.pt"), weights_only=True)
    heads = json.load(open(os.path.join(directory, "config.json")))["num_attention_heads"]
    width, hidden = lin_state["weight"].shape
    ffn = lt_state["list_transformer.layers.0.linear1.weight"].shape[0]
    layers = len({k.split(".")[2] for k in lt_state if k.startswith("list_transformer.layers.")})
    lin = nn.Linear(hidden, width)
    lin.load_state_dict(lin_state, strict=True)
    lt = ListTransformer(layers, heads, width, ffn)
    lt.load_state_dict(lt_state, strict=True)
    return lin, lt


def named_head_parameters(lin, lt):
    """Trainable tensors in file order; the template layer is never run, so it is not one."""
    out = [(f"linear_in_embedding.{n}", p) for n, p in lin.named_parameters()]
    out += [(n, p) for n, p in lt.named_parameters() if not n.startswith("list_transformer_layer.")]
    return out


def circle_loss(logits, relevant):
    losses, start = [], 0
    for labels in relevant:
        s = torch.sigmoid(logits[start:start + len(labels)])
        start += len(labels)
        mask = torch.tensor(labels, dtype=torch.bool)
        sp, sn = s[mask], s[~mask]
        ap = torch.clamp_min(1 + MARGIN - sp.detach(), 0)
        an = torch.clamp_min(sn.detach() + MARGIN, 0)
        logit_p = -GAMMA * ap * (sp - (1 - MARGIN))
        logit_n = GAMMA * an * (sn - MARGIN)
        losses.append(F.softplus(torch.logsumexp(logit_n, 0) + torch.logsumexp(logit_p, 0)))
    losses = torch.stack(losses)
    return losses.mean(), losses


def decays(name):
    return not (name.endswith("bias") or "norm1." in name or "norm2." in name or "layerNorm." in name)


def f32(values):
    """Shortest decimal that reads back as the same float32."""
    return [float(str(np.float32(v))) for v in np.asarray(values, dtype=np.float32).reshape(-1)]


def main():
    torch.manual_seed(0)
    lin, lt = load_head(TINY)
    lin.eval()
    lt.eval()
    hidden = lin.in_features
    g = torch.Generator().manual_seed(1234)
    pooled = torch.randn(sum(LIST_LENGTHS), hidden, generator=g).requires_grad_()

    params = named_head_parameters(lin, lt)
    logits = lt(lin(pooled), [n - 1 for n in LIST_LENGTHS])
    loss, list_losses = circle_loss(logits, RELEVANT)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in params}
    pooled_gradient = pooled.grad.detach().clone()   # what stage 2 carries into the encoder
    pooled = pooled.detach()

    # Optimizer: 3 steps, each fed the recorded gradients.
    decay = [p for n, p in params if decays(n)]
    no_decay = [p for n, p in params if not decays(n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}], lr=PEAK_LR, betas=BETAS, eps=EPS)
    sched = get_linear_schedule_with_warmup(opt, WARMUP, TOTAL)
    total_norm = float(torch.sqrt(sum((v.double() ** 2).sum() for v in grads.values())))
    max_norm = 0.5 * total_norm          # so clipping acts
    steps = []
    for _ in range(STEPS):
        for n, p in params:
            p.grad = grads[n].clone()
        norm = torch.nn.utils.clip_grad_norm_([p for _, p in params], max_norm)
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        steps.append({"learning_rate": lr, "norm": float(norm)})

    probe = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=PEAK_LR)
    probe_sched = get_linear_schedule_with_warmup(probe, WARMUP, TOTAL)
    schedule = []
    for _ in range(8):
        schedule.append(probe.param_groups[0]["lr"])
        probe.step()
        probe_sched.step()

    golden = {
        "model": "tiny-model",
        "list_lengths": LIST_LENGTHS,
        "relevant": [bool(x) for labels in RELEVANT for x in labels],
        "hidden": hidden,
        "pooled": f32(pooled),
        "margin": MARGIN, "gamma": GAMMA,
        "logits": f32(logits.detach()),
        "list_losses": f32(list_losses.detach()),
        "loss": float(loss.detach()),
        "gradients": {n: f32(v) for n, v in grads.items()},
        "pooled_gradient": f32(pooled_gradient),
        "optimizer": {
            "peak_learning_rate": PEAK_LR, "warmup_steps": WARMUP, "total_steps": TOTAL,
            "weight_decay": WEIGHT_DECAY, "beta1": BETAS[0], "beta2": BETAS[1], "epsilon": EPS,
            "max_norm": max_norm, "steps": steps,
            "parameters_after": {n: f32(p.detach()) for n, p in params},
        },
        "schedule_learning_rates": schedule,
        "versions": {"torch": torch.__version__},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes); loss {float(loss.detach()):.6f}, grad norm {total_norm:.4g}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
