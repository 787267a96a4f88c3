#!/usr/bin/env python3
"""Writes a full-size random BERT-large encoder (ListConRanker's shapes: 24 layers, hidden 1024,
16 heads, FFN 4096, 512 positions, vocab 21128; about 1.3 GB in F32) as safetensors, streamed
tensor by tensor so it never holds the whole model in memory. For measuring the Swift readers:

    python3 tools/reference/make_large_safetensors.py /tmp/bert-large-random.safetensors
    swift build -c release
    .build/release/listconranker inspect /tmp/bert-large-random.safetensors --memory --convert

Do not write it inside the repository.
"""
import argparse
import json
import struct

import numpy as np

LAYERS, HIDDEN, FFN, POSITIONS, VOCAB, TYPES = 24, 1024, 4096, 512, 21128, 2


def bert_large_shapes(prefix):
    shapes = {
        "embeddings.word_embeddings.weight": [VOCAB, HIDDEN],
        "embeddings.position_embeddings.weight": [POSITIONS, HIDDEN],
        "embeddings.token_type_embeddings.weight": [TYPES, HIDDEN],
        "embeddings.LayerNorm.weight": [HIDDEN],
        "embeddings.LayerNorm.bias": [HIDDEN],
        "pooler.dense.weight": [HIDDEN, HIDDEN],
        "pooler.dense.bias": [HIDDEN],
    }
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[p + name + ".weight"] = [HIDDEN, HIDDEN]
            shapes[p + name + ".bias"] = [HIDDEN]
        shapes[p + "attention.output.LayerNorm.weight"] = [HIDDEN]
        shapes[p + "attention.output.LayerNorm.bias"] = [HIDDEN]
        shapes[p + "intermediate.dense.weight"] = [FFN, HIDDEN]
        shapes[p + "intermediate.dense.bias"] = [FFN]
        shapes[p + "output.dense.weight"] = [HIDDEN, FFN]
        shapes[p + "output.dense.bias"] = [HIDDEN]
        shapes[p + "output.LayerNorm.weight"] = [HIDDEN]
        shapes[p + "output.LayerNorm.bias"] = [HIDDEN]
    return {prefix + name: shape for name, shape in shapes.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    parser.add_argument("--prefix", default="", help='key prefix, e.g. "bert."')
    args = parser.parse_args()

    size = {"F32": 4, "F16": 2, "BF16": 2}[args.dtype]
    shapes = bert_large_shapes(args.prefix)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name in sorted(shapes):
        count = int(np.prod(shapes[name]))
        header[name] = {"dtype": args.dtype, "shape": shapes[name], "data_offsets": [offset, offset + count * size]}
        offset += count * size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data area starts 8-byte aligned, as safetensors writes it

    rng = np.random.default_rng(1024)
    with open(args.output, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for name in sorted(shapes):
            values = rng.standard_normal(int(np.prod(shapes[name])), dtype=np.float32) * np.float32(0.02)
            if args.dtype == "F16":
                values = values.astype(np.float16)
            elif args.dtype == "BF16":
                values = (values.view(np.uint32) >> 16).astype(np.uint16)  # truncation is fine for random data
            f.write(values.tobytes())
    parameters = sum(int(np.prod(s)) for s in shapes.values())
    print(f"wrote {args.output}: {len(shapes)} tensors, {parameters} parameters, {8 + len(encoded) + offset} bytes")


if __name__ == "__main__":
    main()
