"""The manpages-zh task and m3e-small in one package small enough to travel to a lent GPU machine
(the device tool carries at most 64 MiB with the working tree, and that machine has neither the
Debian package the task is made from nor the model), for the bf16 MAP check of issue 30
(`gpu-map-check.sh`).

m3e-small's fp32 weights take 96 MB and compress by a tenth, so the package holds them rounded to
bf16 (to nearest even, as `.to(torch.bfloat16)`), with the rows of the word embeddings that no
text of the task uses set to zero: 20 MB compressed. `unpack` writes them back as an fp32
safetensors checkpoint. For this task that checkpoint is exactly the rounded model (a zeroed row is
never read: no text has its token), so the CPU baseline that the GPU's MAP is held to must be
measured from the same unpacked checkpoint, not from the original weights (BENCHMARKS.md).

    python3 tools/device/manpages_package.py pack --model .models/m3e-small --task /tmp/manpages \
        --out .device-map/manpages-m3e.tar
    python3 tools/device/manpages_package.py unpack --package .device-map/manpages-m3e.tar --out /tmp/mp-package

`unpack` needs numpy alone (the GPU machine has it with PyTorch); `pack` needs torch and
transformers (the tokenizer tells which embedding rows the texts use).
"""
import argparse
import io
import json
import lzma
import os
import struct
import sys
import tarfile

import numpy as np

MODEL_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
TASK_FILES = ["train.jsonl", "dev.jsonl"]


def bf16_bits(values):
    """float32 array → uint16 bf16 bit patterns, rounded to nearest even (NaN kept a NaN)."""
    u = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    return np.where(nan, ((u >> 16) | 0x40).astype(np.uint16), rounded)


def used_token_ids(model, task):
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(model)
    used = set(tokenizer.all_special_ids)
    for name in TASK_FILES:
        with open(os.path.join(task, name), encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                for text in [record["query"]] + record["positive"] + record["negative"]:
                    used.update(tokenizer(text, truncation=False, verbose=False)["input_ids"])
    return used


def pack(args):
    import torch
    used = used_token_ids(args.model, args.task)
    state = torch.load(os.path.join(args.model, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    index, planes = [], []
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            continue   # buffers such as an int64 position_ids: no weights, and no model code reads them
        values = tensor.float().numpy().copy()
        if name.endswith("word_embeddings.weight"):
            unused = np.ones(values.shape[0], dtype=bool)
            unused[sorted(used)] = False
            values[unused] = 0
        bits = bf16_bits(values.reshape(-1))
        # The high and the low bytes apart (exponents compress; the low mantissa bits do not).
        planes.append(bits.view(np.uint8).reshape(-1, 2).T.tobytes())
        index.append({"name": name, "shape": list(values.shape)})
    weights = lzma.compress(b"".join(planes), preset=6)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with tarfile.open(args.out, "w") as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("index.json", json.dumps({"tensors": index, "used_token_ids": len(used)}).encode())
        add("weights.bf16.xz", weights)
        for name in MODEL_FILES:
            with open(os.path.join(args.model, name), "rb") as f:
                add("model/" + name, f.read())
        for name in TASK_FILES:
            with open(os.path.join(args.task, name), "rb") as f:
                add("task/" + name + ".xz", lzma.compress(f.read(), preset=6))
    print(json.dumps({"package": args.out, "bytes": os.path.getsize(args.out), "tensors": len(index),
                      "used_token_ids": len(used)}))


def write_safetensors(path, tensors):
    """An fp32 safetensors file of (name, array) pairs, in order."""
    header, offset = {}, 0
    for name, values in tensors:
        size = values.size * 4
        header[name] = {"dtype": "F32", "shape": list(values.shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for _, values in tensors:
            f.write(np.ascontiguousarray(values, dtype="<f4").tobytes())


def unpack(args):
    with tarfile.open(args.package) as tar:
        def read(name):
            return tar.extractfile(name).read()
        index = json.loads(read("index.json"))
        raw = lzma.decompress(read("weights.bf16.xz"))
        model, task = os.path.join(args.out, "model"), os.path.join(args.out, "task")
        os.makedirs(model, exist_ok=True)
        os.makedirs(task, exist_ok=True)
        tensors, at = [], 0
        for entry in index["tensors"]:
            count = int(np.prod(entry["shape"], dtype=np.int64))
            planes = np.frombuffer(raw, dtype=np.uint8, count=2 * count, offset=at).reshape(2, count)
            at += 2 * count
            bits = np.ascontiguousarray(planes.T).view(np.uint16).reshape(-1)
            values = (bits.astype(np.uint32) << 16).view(np.float32).reshape(entry["shape"])
            tensors.append((entry["name"], values))
        if at != len(raw):
            sys.exit(f"the package's weights hold {len(raw)} bytes, its index {at}")
        write_safetensors(os.path.join(model, "model.safetensors"), tensors)
        for name in MODEL_FILES:
            with open(os.path.join(model, name), "wb") as f:
                f.write(read("model/" + name))
        for name in TASK_FILES:
            with open(os.path.join(task, name), "wb") as f:
                f.write(lzma.decompress(read("task/" + name + ".xz")))
    print(json.dumps({"model": model, "task": task, "tensors": len(tensors)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pack", help="write the package (needs torch and transformers)")
    p.add_argument("--model", required=True, help="m3e-small's folder (pytorch_model.bin and its tokenizer)")
    p.add_argument("--task", required=True, help="the folder tools/make_manpages_task.py wrote")
    p.add_argument("--out", required=True)
    u = commands.add_parser("unpack", help="write the model (fp32 safetensors) and the task from a package")
    u.add_argument("--package", required=True)
    u.add_argument("--out", required=True, help="gets model/ and task/")
    args = parser.parse_args()
    pack(args) if args.command == "pack" else unpack(args)


if __name__ == "__main__":
    main()
