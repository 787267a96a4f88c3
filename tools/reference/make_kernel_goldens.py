"""Goldens for the compute kernels from PyTorch's own operators (F.gelu, F.layer_norm,
masked softmax, nn.Linear), on fixed random inputs.

  python tools/reference/make_kernel_goldens.py
"""
import json
import os

import torch
from torch.nn import functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ListConRankerTests", "Fixtures", "kernel-goldens.json")


def values(t):
    return [float(v) for v in t.flatten().tolist()]


def main():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 40, generator=g) * 3
    residual = torch.randn(6, 40, generator=g)
    gamma, beta = torch.randn(40, generator=g), torch.randn(40, generator=g)
    w, b = torch.randn(24, 40, generator=g), torch.randn(24, generator=g)
    scores = torch.randn(5, 7, generator=g) * 4
    ranges = [[0, 1], [0, 7], [2, 5], [0, 7], [6, 7]]
    mask = torch.full((5, 7), float("-inf"))
    for r, (lo, hi) in enumerate(ranges):
        mask[r, lo:hi] = 0
    golden = {
        "x": {"shape": list(x.shape), "values": values(x)},
        "residual": values(residual), "gamma": values(gamma), "beta": values(beta),
        "weight": {"shape": list(w.shape), "values": values(w)}, "bias": values(b),
        "gelu": values(F.gelu(x)),
        "relu": values(F.relu(x)),
        "sigmoid": values(torch.sigmoid(x)),
        "layer_norm_eps_1e-5": values(F.layer_norm(x + residual, (40,), gamma, beta, 1e-5)),
        "linear": values(F.linear(x, w, b)),
        "linear_gelu": values(F.gelu(F.linear(x, w, b))),
        "softmax_scores": {"shape": list(scores.shape), "values": values(scores)},
        "softmax_ranges": ranges,
        "softmax": values(torch.softmax(scores + mask, dim=-1)),
    }
    json.dump(golden, open(OUT, "w"))
    print("wrote", os.path.abspath(OUT))


if __name__ == "__main__":
    main()
