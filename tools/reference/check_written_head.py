"""Checks list-head files written by the Swift training code (ListHeadCheckpointWriter) the way
the original code loads them:

  python tools/reference/check_written_head.py WRITTEN_DIR [ORIGINAL_DIR]

* torch.load(weights_only=True) of linear_in_embedding.pt and list_transformer.pt;
* nn.Linear and the reference ListTransformer load_state_dict(strict=True) (which needs the
  unused list_transformer_layer.* copy), with the widths, layer count and heads read off the
  files (heads from WRITTEN_DIR/config.json if present, else ORIGINAL_DIR's, else 1);
* the template copy equals layer 0;
* the `_metadata` keys equal those PyTorch itself records for the module;
* with ORIGINAL_DIR: every tensor but the template copy is bit-identical to the original's.
Prints "ok" and exits 0, or prints the problem and exits 1.
"""
import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from listconranker_reference import ListTransformer  # noqa: E402


def heads_of(*directories):
    for d in directories:
        if d and os.path.exists(os.path.join(d, "config.json")):
            return json.load(open(os.path.join(d, "config.json")))["num_attention_heads"]
    return 1


def main(written, original=None):
    lin = torch.load(os.path.join(written, "linear_in_embedding.pt"), weights_only=True)
    lt = torch.load(os.path.join(written, "list_transformer.pt"), weights_only=True)
    width, hidden = lin["weight"].shape
    ffn = lt["list_transformer.layers.0.linear1.weight"].shape[0]
    layers = len({k.split(".")[2] for k in lt if k.startswith("list_transformer.layers.")})
    linear = nn.Linear(hidden, width)
    linear.load_state_dict(lin, strict=True)
    model = ListTransformer(layers, heads_of(written, original), width, ffn)
    model.load_state_dict(lt, strict=True)
    expected = model.state_dict()
    assert list(lt.keys()) == list(expected.keys()), "key order differs from ListTransformer.state_dict()"
    assert list(lt._metadata.keys()) == list(expected._metadata.keys()), "_metadata keys differ"
    assert list(lin._metadata.keys()) == list(linear.state_dict()._metadata.keys()), "linear _metadata keys differ"
    for k, v in lt.items():
        if k.startswith("list_transformer_layer."):
            layer0 = lt["list_transformer.layers.0." + k[len("list_transformer_layer."):]]
            assert torch.equal(v, layer0), f"{k} is not a copy of layer 0"
        assert v.dtype == torch.float32 and v.is_contiguous(), k
    if original:
        for name, state in (("linear_in_embedding.pt", lin), ("list_transformer.pt", lt)):
            source = torch.load(os.path.join(original, name), weights_only=True)
            assert set(source.keys()) == set(state.keys()), f"{name}: keys differ"
            for k, v in source.items():
                if k.startswith("list_transformer_layer."):
                    continue
                assert torch.equal(v, state[k]), f"{name}: {k} differs"
    print(f"ok: {len(lin)} + {len(lt)} tensors, width {width}, hidden {hidden}, ffn {ffn}, {layers} layers")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    try:
        main(*sys.argv[1:])
    except Exception as error:  # noqa: BLE001 - report any failure as one line
        print(f"FAILED: {type(error).__name__}: {error}")
        sys.exit(1)
