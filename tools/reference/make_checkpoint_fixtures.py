#!/usr/bin/env python3
"""Writes the small checkpoint fixtures the Swift checkpoint readers are tested against.

Output: Tests/ListConRankerTests/Fixtures/checkpoint/
  dtypes.pt                 torch.save of f32/f16/bf16 tensors, a view sharing storage at an
                            offset, a transposed (non-contiguous) view, a strided column slice
  linear.pt                 nn.Linear(4, 3).state_dict()
  encoder.pt                nn.TransformerEncoder (d_model 8, 2 heads, FFN 16, 2 layers).state_dict()
                            (an OrderedDict whose BUILD sets `_metadata`)
  encoder_protocol4.pt      the same state dict saved with pickle_protocol=4
                            (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL)
  parameter.pt              {"p": nn.Parameter}: torch._utils._rebuild_parameter
  linear_zip64.pt           linear.pt's entries re-packed with zip64 extra fields in the
                            central directory (as torch writes for files over 4 GiB)
  bert_prefixed.safetensors tiny BERT-named tensors with a `bert.` prefix, an I64 position_ids
  bert_plain.safetensors    the same names without the prefix, F16 and BF16 tensors
  golden.json               every float tensor of every file: dtype, shape, values (row-major);
                            encoder_protocol4.pt and linear_zip64.pt hold encoder.pt's and linear.pt's
Refused on purpose (the tests check the error messages):
  evil_os_system.pt, evil_builtins_eval.pt, evil_builtin_eval.pt   pickles naming other globals
  unknown_opcode.pt         a pickle with an opcode the reader does not accept (PUT, text memo)
  no_data_pkl.pt            a zip without data.pkl
  legacy.pt                 torch.save(..., _use_new_zipfile_serialization=False)
  compressed.pt             linear.pt re-zipped with deflate
  missing_storage.pt        linear.pt without linear/data/1 (the bias storage)
  short_storage.pt          linear.pt with linear/data/0 cut to 8 bytes (12 floats needed)

Run from the repository root: python3 tools/reference/make_checkpoint_fixtures.py
"""
import json
import math
import os
import struct
import zipfile
from collections import OrderedDict

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ListConRankerTests", "Fixtures", "checkpoint")
OUT = os.path.normpath(OUT)
os.makedirs(OUT, exist_ok=True)

torch.manual_seed(20250107)
golden = {}


def record(file_name, tensors):
    """Adds the float tensors of one file to the golden (values as Float32 lists)."""
    entry = {}
    for name, t in tensors.items():
        if t.dtype not in (torch.float32, torch.float16, torch.bfloat16):
            continue
        dtype = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[t.dtype]
        entry[name] = {
            "dtype": dtype,
            "shape": list(t.shape),
            # Non-finite values as strings: JSON has no literal for them.
            "values": [v if math.isfinite(v) else str(v) for v in t.detach().float().contiguous().reshape(-1).tolist()],
        }
    golden[file_name] = entry


def path(name):
    return os.path.join(OUT, name)


# --- PyTorch zip checkpoints -------------------------------------------------------------
base = torch.randn(5, 6)
shared = torch.arange(24, dtype=torch.float32) / 8 - 1.5
dtypes = OrderedDict()
dtypes["f32"] = torch.randn(2, 3)
dtypes["f16"] = (torch.randn(3, 4) * 100).half()
dtypes["f16_special"] = torch.tensor([0.0, -0.0, 6.0e-8, -6.1e-5, 65504.0, float("inf"), float("-inf"), 1.0 / 3],
                                     dtype=torch.float16)
dtypes["bf16"] = torch.randn(4, 2).bfloat16()
dtypes["base"] = base
dtypes["view_offset"] = base[2:4]             # shares base's storage, storage offset 12
dtypes["transposed"] = base.t()               # shares base's storage, strides (1, 6)
dtypes["column_slice"] = base[:, 1:5:2]       # strides (6, 2), offset 1
dtypes["shared_reshaped"] = shared.view(4, 6)
dtypes["shared_tail"] = shared[10:].view(2, 7)  # same storage, offset 10
dtypes["scalar"] = torch.tensor(2.5)
dtypes["empty"] = torch.zeros(0, 3)
assert not dtypes["transposed"].is_contiguous()
torch.save(dtypes, path("dtypes.pt"))
record("dtypes.pt", dtypes)

linear = torch.nn.Linear(4, 3)
linear_sd = linear.state_dict()
torch.save(linear_sd, path("linear.pt"))
record("linear.pt", linear_sd)

encoder = torch.nn.TransformerEncoder(
    torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2, enable_nested_tensor=False)
encoder_sd = encoder.state_dict()
assert hasattr(encoder_sd, "_metadata")
torch.save(encoder_sd, path("encoder.pt"))
record("encoder.pt", encoder_sd)
torch.save(encoder_sd, path("encoder_protocol4.pt"), pickle_protocol=4)

parameter = {"p": torch.nn.Parameter(torch.randn(3))}
torch.save(parameter, path("parameter.pt"))
record("parameter.pt", parameter)


def write_zip64(source, target):
    """Re-packs a stored zip so every central directory entry carries a zip64 extra field
    (sizes and local header offset 0xFFFFFFFF in the fixed fields), plus the zip64 end records."""
    with zipfile.ZipFile(source) as z:
        entries = [(info.filename, z.read(info.filename)) for info in z.infolist()]
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        encoded = name.encode()
        offset = len(out)
        crc = zipfile.crc32(data) & 0xFFFFFFFF
        # Local header with a zip64 extra field (sizes) and torch-style "FB" alignment padding.
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        header_len = 30 + len(encoded) + len(local_extra) + 4
        pad = (-header_len) % 64
        local_extra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(encoded), len(local_extra))
        out += encoded + local_extra + data
        central_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(encoded), len(central_extra), 0, 0, 0, 0, 0xFFFFFFFF)
        central += encoded + central_extra
    cd_offset = len(out)
    out += central
    zip64_end = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries),
                       len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, zip64_end, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(target, "wb") as f:
        f.write(out)


write_zip64(path("linear.pt"), path("linear_zip64.pt"))


# --- safetensors ------------------------------------------------------------------------
def tiny_bert(prefix):
    t = OrderedDict()
    t[prefix + "embeddings.word_embeddings.weight"] = torch.randn(10, 4)
    t[prefix + "embeddings.position_embeddings.weight"] = torch.randn(6, 4)
    t[prefix + "embeddings.LayerNorm.weight"] = torch.ones(4) + torch.randn(4) / 10
    t[prefix + "embeddings.LayerNorm.bias"] = torch.randn(4) / 10
    t[prefix + "encoder.layer.0.attention.self.query.weight"] = torch.randn(4, 4)
    t[prefix + "encoder.layer.0.attention.self.query.bias"] = torch.randn(4)
    return t


prefixed = tiny_bert("bert.")
prefixed["bert.embeddings.position_ids"] = torch.arange(6, dtype=torch.int64).unsqueeze(0)
save_file(prefixed, path("bert_prefixed.safetensors"), metadata={"format": "pt"})
record("bert_prefixed.safetensors", prefixed)

plain = tiny_bert("")
plain["encoder.layer.0.attention.self.key.weight"] = torch.randn(4, 4).half()
plain["encoder.layer.0.attention.self.value.weight"] = torch.randn(4, 4).bfloat16()
plain["list_transformer_layer.linear1.weight"] = torch.randn(2, 2)  # the unused copy, to be ignored
save_file(plain, path("bert_plain.safetensors"))
record("bert_plain.safetensors", plain)


# --- files the readers must refuse --------------------------------------------------------
def write_pickle_zip(name, pickle_bytes, top="archive", include_pickle=True):
    with zipfile.ZipFile(path(name), "w", compression=zipfile.ZIP_STORED) as z:
        if include_pickle:
            z.writestr(f"{top}/data.pkl", pickle_bytes)
        z.writestr(f"{top}/version", b"3\n")
        z.writestr(f"{top}/byteorder", b"little")


# Hand-written protocol-2 pickles: a REDUCE of a forbidden global on a string argument.
def reduce_global(module, attribute, argument):
    arg = argument.encode()
    return (b"\x80\x02c" + module.encode() + b"\n" + attribute.encode() + b"\nq\x00X"
            + struct.pack("<I", len(arg)) + arg + b"\x85R.")


write_pickle_zip("evil_os_system.pt", reduce_global("os", "system", "echo pwned"))
write_pickle_zip("evil_builtins_eval.pt", reduce_global("builtins", "eval", "1+1"))
write_pickle_zip("evil_builtin_eval.pt", reduce_global("__builtin__", "eval", "1+1"))
# `p0\n` (PUT, a text-protocol opcode) after an empty dict: valid pickle, not accepted here.
write_pickle_zip("unknown_opcode.pt", b"\x80\x02}p0\n.")
write_pickle_zip("no_data_pkl.pt", b"", include_pickle=False)
torch.save({"w": torch.ones(2)}, path("legacy.pt"), _use_new_zipfile_serialization=False)


def repack(name, compression=zipfile.ZIP_STORED, drop=None, truncate=None):
    """linear.pt's entries re-zipped: compressed, without one entry, or with one cut short."""
    with zipfile.ZipFile(path("linear.pt")) as source, \
            zipfile.ZipFile(path(name), "w", compression=compression) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == drop:
                continue
            if info.filename == truncate:
                data = data[:8]
            target.writestr(info.filename, data)


repack("compressed.pt", compression=zipfile.ZIP_DEFLATED)
repack("missing_storage.pt", drop="linear/data/1")
repack("short_storage.pt", truncate="linear/data/0")

with open(path("golden.json"), "w") as f:
    json.dump(golden, f, indent=None, separators=(",", ":"), sort_keys=True)
    f.write("\n")

total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
print(f"wrote {len(os.listdir(OUT))} files to {OUT}, {total} bytes")
