"""What each GPU training kernel compiles to, without a GPU: NVRTC (.models/nvrtc, from
tools/fetch-test-models.sh) compiles CUDATrainingKernelSource for an architecture, and NVIDIA's
cuobjdump (the nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm wheels, fetched into .models/cuobjdump
on first use) lists each kernel's machine code. Prints, per kernel, its registers (ptxas's
EIATTR_REGCOUNT in the cubin) and its SASS instructions: all, integer multiply-adds (IMAD*),
three-input logic (LOP3), tensor-core products (HMMA), special functions (MUFU) and calls. Static
counts, not executed ones: a loop's body counts once. BENCHMARKS.md uses them to count the integer
work of a Philox call (philox_uniform, a call an element: ~45 IMAD, ~22 LOP3).

    python3 tools/bench/kernel_sass.py [--arch sm_90] [--kernel dropout_keep ...] [--json]
"""
import argparse
import ctypes
import glob
import json
import os
import re
import struct
import subprocess
import sys
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CUDA_SOURCES = os.path.join(ROOT, "Sources", "ListConRankerCUDA")
# cuobjdump runs nvdisasm beside it.
TOOL_WHEELS = {"cuobjdump": "nvidia-cuda-cuobjdump==13.5.37", "nvdisasm": "nvidia-cuda-nvdisasm==13.5.37"}


def raw_string(file, name):
    """The Swift raw string `static let <name> = #\"\"\" … \"\"\"#` of a file in Sources/ListConRankerCUDA."""
    text = open(os.path.join(CUDA_SOURCES, file)).read()
    match = re.search(r'static let ' + name + r'(?:: String)? = #"""\n(.*?)\n"""#', text, re.S)
    if not match:
        sys.exit(f"{file}: no raw string {name}")
    return match.group(1) + "\n"


def training_source():
    """CUDATrainingKernelSource.source as the Swift composes it: the pieces it names, then its own text."""
    text = open(os.path.join(CUDA_SOURCES, "CUDATrainingKernelSource.swift")).read()
    match = re.search(r'public static let source = ([\w.\s+]+?)\+ #"""\n(.*?)\n"""#', text, re.S)
    if not match:
        sys.exit("CUDATrainingKernelSource.swift: its `source` is no longer pieces + a raw string")
    pieces = {"CUDAKernelSource.blockReductions": ("CUDAKernelSource.swift", "blockReductions")}
    for file in glob.glob(os.path.join(CUDA_SOURCES, "CUDATrainingKernelSource+*.swift")):
        for name in re.findall(r'static let (\w+)(?:: String)? = #"""', open(file).read()):
            pieces[name] = (os.path.basename(file), name)
    source = ""
    for name in (part.strip() for part in match.group(1).split("+") if part.strip()):
        if name not in pieces:
            sys.exit(f"CUDATrainingKernelSource.source names {name}, which this script cannot find")
        source += raw_string(*pieces[name])
    source += match.group(2) + "\n"
    if "\\#(" in source:
        sys.exit("the kernel source interpolates a Swift value; this script cannot")
    return source


def compile_cubin(source, arch):
    library = os.path.join(ROOT, ".models", "nvrtc", "libnvrtc.so.13")
    if not os.path.exists(library):
        sys.exit("no .models/nvrtc: run tools/fetch-test-models.sh")
    nvrtc = ctypes.CDLL(library)
    program = ctypes.c_void_p()
    if nvrtc.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"kernels.cu", 0, None, None):
        sys.exit("nvrtcCreateProgram failed")
    options = [b"--std=c++17", f"--gpu-architecture={arch}".encode()]
    status = nvrtc.nvrtcCompileProgram(program, len(options), (ctypes.c_char_p * len(options))(*options))
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    if status:
        sys.exit("NVRTC: " + log.value.decode())
    nvrtc.nvrtcGetCUBINSize(program, ctypes.byref(size))
    cubin = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetCUBIN(program, cubin)
    return cubin.raw


def register_counts(cubin):
    """Registers a thread by kernel (as the test CubinRegisterCounts reads them)."""
    headers, = struct.unpack_from("<Q", cubin, 0x28)
    size, count, names = struct.unpack_from("<HHH", cubin, 0x3A)
    sections = [struct.unpack_from("<IIQQQQII", cubin, headers + i * size) for i in range(count)]

    def name(section):
        start = sections[names][4] + section[0]
        return cubin[start:cubin.index(b"\0", start)].decode()
    kernel_of_symbol = {s[7] & 0xFFFFFF: name(s)[6:] for s in sections if name(s).startswith(".text.")}
    info = next(s for s in sections if name(s) == ".nv.info")
    registers, offset = {}, info[4]
    while offset + 4 <= info[4] + info[5]:
        form, attribute = cubin[offset], cubin[offset + 1]
        if form != 4:
            offset += 4
            continue
        length, = struct.unpack_from("<H", cubin, offset + 2)
        if attribute == 0x2F and length == 8:
            symbol, value = struct.unpack_from("<II", cubin, offset + 4)
            if symbol in kernel_of_symbol:
                registers[kernel_of_symbol[symbol]] = value
        offset += 4 + length
    return registers


def cuobjdump():
    folder = os.path.join(ROOT, ".models", "cuobjdump")
    wheels = os.path.join(ROOT, ".models", "wheels")
    for tool, wheel_name in TOOL_WHEELS.items():
        path = os.path.join(folder, tool)
        if os.path.exists(path):
            continue
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", wheels,
                        wheel_name], check=True)
        wheel = glob.glob(os.path.join(wheels, wheel_name.split("==")[0].replace("-", "_") + "-*.whl"))[0]
        os.makedirs(folder, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            member = next(m for m in archive.namelist() if m.endswith("/bin/" + tool))
            with archive.open(member) as source, open(path, "wb") as target:
                target.write(source.read())
        os.chmod(path, 0o755)
        os.remove(wheel)
    return os.path.join(folder, "cuobjdump")


def instruction_counts(cubin, arch):
    path = os.path.join(ROOT, ".models", f"training-kernels-{arch}.cubin")
    with open(path, "wb") as file:
        file.write(cubin)
    tool = cuobjdump()
    environment = dict(os.environ, PATH=os.path.dirname(tool) + os.pathsep + os.environ.get("PATH", ""))
    listing = subprocess.run([tool, "-sass", path], check=True, capture_output=True, text=True, env=environment).stdout
    counts, kernel = {}, None
    for line in listing.splitlines():
        match = re.search(r"Function : (\S+)", line)
        if match:
            kernel = match.group(1)
            counts[kernel] = {"instructions": 0, "IMAD": 0, "LOP3": 0, "HMMA": 0, "MUFU": 0, "CALL": 0}
            continue
        match = re.match(r"\s+/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)", line)
        if kernel and match:
            opcode, c = match.group(1), counts[kernel]
            c["instructions"] += 1
            for family in ("IMAD", "LOP3", "HMMA", "MUFU", "CALL"):
                if opcode.startswith(family):
                    c[family] += 1
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="sm_90")
    parser.add_argument("--kernel", nargs="*", help="only these kernels (their extern \"C\" names)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args()
    cubin = compile_cubin(training_source(), args.arch)
    registers, counts = register_counts(cubin), instruction_counts(cubin, args.arch)
    rows = {k: dict(registers=registers.get(k), **counts[k]) for k in sorted(counts)
            if not args.kernel or k in args.kernel}
    if args.json:
        print(json.dumps({"arch": args.arch, "kernels": rows}, indent=1))
        return
    print(f"{'kernel':42} {'regs':>5} {'instr':>6} {'IMAD':>5} {'LOP3':>5} {'HMMA':>5} {'MUFU':>5} {'CALL':>5}")
    for k, r in rows.items():
        print(f"{k:42} {r['registers'] or 0:5} {r['instructions']:6} {r['IMAD']:5} {r['LOP3']:5} {r['HMMA']:5} "
              f"{r['MUFU']:5} {r['CALL']:5}")


if __name__ == "__main__":
    main()
