"""Where int8's error comes from, on m3e-small: PyTorch emulation of the int8 path (weights per
output channel, symmetric s8; activations per row, u8 with an integer zero point over 255 levels
with VNNI and 127 without; each activation row's two largest-magnitude entries taken out of the
int8 product and added in fp32) over the embedding test corpus, against the fp32 goldens, with
variants (the earlier schemes: symmetric rows, 7-bit weights without VNNI, no outliers taken out;
one product kind kept fp32; per-tensor scales; and options not built).

  python3 tools/bench/int8_emulation.py            # prints min / mean cosine per variant
"""
import json
import os

import torch
from transformers import AutoModel, AutoTokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
M3E = os.path.join(ROOT, ".models", "m3e-small")
golden = json.load(open(os.path.join(ROOT, "Tests", "ListConRankerTests", "Fixtures", "embedding-goldens.json")))["m3e-small"]
torch.set_num_threads(2)
tokenizer = AutoTokenizer.from_pretrained(M3E)
model = AutoModel.from_pretrained(M3E, attn_implementation="eager").eval()
encoded = tokenizer(golden["sentences"], padding=True, truncation=True, max_length=512, return_tensors="pt")
reference = torch.tensor(golden["embeddings"])


def rows(x):
    s = x.abs().amax(-1, keepdim=True) / 127
    s[s == 0] = 1
    return torch.round(x / s) * s


def asymmetric(x, levels=255):
    """u8 with an integer zero point per row: [min, max] (0 included) over `levels` levels."""
    low, high = x.amin(-1, keepdim=True).clamp(max=0), x.amax(-1, keepdim=True).clamp(min=0)
    s = (high - low) / levels
    s[s == 0] = 1
    zero = torch.round(-low / s)
    return (torch.clamp(torch.round(x / s) + zero, 0, levels) - zero) * s


def without_outliers(x, quantize, count):
    """The row's `count` largest |x| kept exactly, the rest quantised against what remains."""
    if count == 0:
        return quantize(x)
    index = x.abs().topk(count, dim=-1).indices
    rest = x.clone().scatter_(-1, index, 0)
    return quantize(rest).scatter_(-1, index, x.gather(-1, index))


def channels(w, limit=127):
    s = w.abs().amax(1, keepdim=True) / limit
    s[s == 0] = 1
    return torch.round(w / s) * s


variant = {}


def forward(self, x):
    w, mode = self.weight, variant.get("mode")
    if self.kind in variant.get("fp32", ()):
        return torch.nn.functional.linear(x, w, self.bias)
    if mode == "per-tensor":
        s = x.abs().amax() / 127
        xq = torch.round(x / s) * s
    elif mode == "weights only":
        xq = x
    elif mode == "no outliers taken out (as first built)":
        xq = rows(x)
    elif mode == "asymmetric rows (u8, zero point), no outliers":
        xq = asymmetric(x)
    elif mode == "as built, without VNNI (127 activation levels)":
        xq = without_outliers(x, lambda t: asymmetric(t, 127), 2)
    elif mode in ("earlier: symmetric s8 rows", "earlier, without VNNI: symmetric s8 rows, 7-bit weights"):
        xq = without_outliers(x, rows, 2)
    elif mode and mode.startswith("outliers per row:"):
        xq = without_outliers(x, rows, int(mode.split(":")[1]))
    elif mode == "residual twice":
        first = rows(x)
        xq = first + rows(x - first)
    elif mode == "groups of 64":
        xq = rows(x.reshape(*x.shape[:-1], -1, 64)).reshape(x.shape)
    elif mode == "LayerNorm smoothing" and hasattr(self, "norm"):
        gamma, beta = self.norm
        s = ((gamma.abs() * 3 + beta.abs()) ** 0.5) / (w.abs().amax(0) ** 0.5)
        return torch.nn.functional.linear(rows(x / s), channels(w * s), self.bias)
    elif mode == "LayerNorm smoothing":   # the products not fed by a LayerNorm: as first built
        xq = rows(x)
    else:
        xq = without_outliers(x, asymmetric, 2)
    limit = 63 if mode and "7-bit weights" in mode else 127
    return torch.nn.functional.linear(xq, w if mode == "activations only" else channels(w, limit), self.bias)


for name, module in model.named_modules():
    if isinstance(module, torch.nn.Linear):
        module.kind = ("qkv" if "self." in name else "attention output" if "attention.output" in name
                       else "ffn in" if "intermediate" in name else "ffn out")
for i, layer in enumerate(model.encoder.layer):
    previous = model.embeddings.LayerNorm if i == 0 else model.encoder.layer[i - 1].output.LayerNorm
    for m in (layer.attention.self.query, layer.attention.self.key, layer.attention.self.value):
        m.norm = (previous.weight.detach(), previous.bias.detach())
    layer.intermediate.dense.norm = (layer.attention.output.LayerNorm.weight.detach(),
                                     layer.attention.output.LayerNorm.bias.detach())
torch.nn.Linear.forward = forward

variants = [{}, {"mode": "as built, without VNNI (127 activation levels)"}, {"mode": "earlier: symmetric s8 rows"},
            {"mode": "earlier, without VNNI: symmetric s8 rows, 7-bit weights"},
            {"mode": "no outliers taken out (as first built)"}, {"mode": "outliers per row:1"},
            {"mode": "outliers per row:4"}, {"mode": "asymmetric rows (u8, zero point), no outliers"},
            {"mode": "per-tensor"}, {"mode": "weights only"}]
variants += [{"mode": "no outliers taken out (as first built)", "fp32": (k,)}
             for k in ("qkv", "attention output", "ffn in", "ffn out")]
variants += [{"mode": m} for m in ("residual twice", "groups of 64", "LayerNorm smoothing")]
for variant in variants:
    with torch.no_grad():
        hidden = model(**encoded).last_hidden_state
        mask = encoded["attention_mask"][..., None].float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
    cosine = torch.nn.functional.cosine_similarity(pooled, reference)
    print(json.dumps({"variant": variant or "as built", "min_cosine": round(cosine.min().item(), 5),
                      "mean_cosine": round(cosine.mean().item(), 5), "below_0.999": int((cosine < 0.999).sum())}))
