// libcuda.so.1 of the software CUDA device: the driver entry points the backend resolves
// (Sources/CCUDA/driver.c), with the CUDA driver API's documented contract, on the CPU.
//
// - One device, "ListConRanker software CUDA device", compute capability 9.0. Its memory is host
//   memory; LISTCONRANKER_CUDA_EMULATOR_MEMORY (bytes, or with a K/M/G suffix; default 16G) is
//   its size, so a request past it fails with CUDA_ERROR_OUT_OF_MEMORY as on a full GPU.
// - Calls need cuInit (else CUDA_ERROR_NOT_INITIALIZED) and, for memory, streams, modules and
//   launches, a current context on the calling thread (else CUDA_ERROR_INVALID_CONTEXT).
// - New allocations are filled with 0xff bytes (NaN): reading memory nobody wrote shows. Each
//   ends (past its 256-byte rounding) against a page that cannot be touched: a kernel reading or
//   writing there fails with CUDA_ERROR_ILLEGAL_ADDRESS, sticky, as on a GPU.
//   Copies and memsets must stay inside one allocation (else CUDA_ERROR_INVALID_VALUE).
// - Copies, memsets and launches run at once; a kernel that fails (deadlock, trap) makes the
//   context's sticky error, returned by that launch's next synchronising call and every call after.
// - Modules: an image built by the emulator's own libnvrtc (a host shared library) is loaded
//   as it is. A real cubin (from NVIDIA's NVRTC) cannot run on a CPU: its kernels are looked up in
//   the CUDA C sources registered with lcr_emulator_add_source, built for the CPU (and only the
//   functions the cubin itself defines are found).
// - Launch limits as on sm_90: blocks of at most 1024 threads (64 in z), grids of at most
//   2^31 - 1 x 65535 x 65535, dynamic shared memory up to 48 KiB unless raised with
//   cuFuncSetAttribute (at most 227 KiB).
// - Events tell the device's time: the time it spent running work (kernels, copies, memsets, and
//   the products of the software cuBLASLt, which reports its own through lcr_emulator_device_work),
//   not the host's. On a GPU that work runs apart from the host, which only enqueues it; here it runs
//   inside the calls, so wall time would charge the host's own time between two launches to the
//   later kernel. With this clock a step's wall time less its kernels' time is what the host
//   spends on it (the CLI's `train --profile` shows both).
// - LISTCONRANKER_CUDA_EMULATOR_FAIL_KERNEL=NAME makes every launch of kernel NAME fail as a
//   faulting kernel does on a GPU (a sticky CUDA_ERROR_LAUNCH_FAILED): for testing how callers
//   report it.
#include "fault_guard.h"
#include "module_abi.h"
#include "module_compiler.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

enum : CUresult {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_NOT_SUPPORTED = 801,
};

namespace {

constexpr unsigned kDefaultShared = 48 * 1024, kMaxShared = 227 * 1024;

struct Context { int device; };
struct Stream { int id; };
// An event's time: the device's clock (device_busy) when it was recorded. Kernels run when launched
// here, so that is when the work enqueued before it finished, on a clock that only runs while work does.
struct Event { std::chrono::nanoseconds at{0}; bool recorded = false; };
struct Function {
    std::string name;
    lcr_emu_launcher launcher;
    unsigned max_dynamic_shared = kDefaultShared;
};
struct Module {
    std::vector<void *> libraries;
    std::map<std::string, Function *> functions;
    bool from_cubin = false;
    std::set<std::string> cubin_kernels;   // the functions a real cubin defines
};

std::recursive_mutex lock;
bool initialized = false;
Context primary{0};
thread_local Context *current = nullptr;
struct Allocation { size_t bytes; void *mapping; size_t mapping_bytes; };
std::map<uintptr_t, Allocation> allocations;
size_t used_bytes = 0;
size_t limit_bytes = 0;
CUresult sticky = CUDA_SUCCESS;
std::set<Stream *> streams;
std::set<Event *> events;
std::vector<std::string> sources;   // lcr_emulator_add_source
unsigned long long allocation_count = 0, free_count = 0, launch_count = 0;
// The device's clock: the time spent running device work (see the events above).
std::chrono::nanoseconds device_busy{0};

// Runs `work` and adds its time to the device's clock.
template <class Work> void device_work(Work work) {
    auto start = std::chrono::steady_clock::now();
    work();
    device_busy += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
}

size_t parse_size(const char *text, size_t fallback) {
    if (!text || !*text) return fallback;
    char *end = nullptr;
    double value = strtod(text, &end);
    if (end == text || value < 0) return fallback;
    switch (*end) {
    case 'k': case 'K': value *= 1024.0; break;
    case 'm': case 'M': value *= 1024.0 * 1024.0; break;
    case 'g': case 'G': value *= 1024.0 * 1024.0 * 1024.0; break;
    default: break;
    }
    return size_t(value);
}

size_t memory_limit() {
    if (!limit_bytes) limit_bytes = parse_size(getenv("LISTCONRANKER_CUDA_EMULATOR_MEMORY"), size_t(16) << 30);
    return limit_bytes;
}

// Whether [address, address + bytes) lies inside one allocation.
bool inside_allocation(CUdeviceptr address, size_t bytes) {
    auto it = allocations.upper_bound(uintptr_t(address));
    if (it == allocations.begin()) return false;
    --it;
    return address >= it->first && address + bytes <= it->first + it->second.bytes;
}

bool valid_stream(void *stream) { return !stream || streams.count(static_cast<Stream *>(stream)); }

// The common preamble: initialised, a current context, no sticky error.
CUresult ready(bool needs_context = true) {
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (needs_context && !current) return CUDA_ERROR_INVALID_CONTEXT;
    return sticky;
}

// The ELF header fields that tell a host library from a GPU cubin.
bool elf_machine(const void *image, uint16_t *machine, uint16_t *type) {
    const unsigned char *bytes = static_cast<const unsigned char *>(image);
    if (!bytes || memcmp(bytes, "\x7f" "ELF", 4) != 0 || bytes[4] != 2) return false;
    memcpy(type, bytes + 16, 2);
    memcpy(machine, bytes + 18, 2);
    return true;
}

// The size of an ELF image: the end of its furthest section or header table.
size_t elf_size(const unsigned char *bytes) {
    uint64_t shoff, phoff;
    uint16_t phentsize, phnum, shentsize, shnum;
    memcpy(&phoff, bytes + 32, 8);
    memcpy(&shoff, bytes + 40, 8);
    memcpy(&phentsize, bytes + 54, 2);
    memcpy(&phnum, bytes + 56, 2);
    memcpy(&shentsize, bytes + 58, 2);
    memcpy(&shnum, bytes + 60, 2);
    uint64_t end = 64;
    end = std::max<uint64_t>(end, shoff + uint64_t(shentsize) * shnum);
    end = std::max<uint64_t>(end, phoff + uint64_t(phentsize) * phnum);
    for (unsigned i = 0; i < shnum; i++) {
        const unsigned char *header = bytes + shoff + uint64_t(i) * shentsize;
        uint32_t kind;
        uint64_t offset, size;
        memcpy(&kind, header + 4, 4);
        memcpy(&offset, header + 24, 8);
        memcpy(&size, header + 32, 8);
        if (kind != 8) end = std::max<uint64_t>(end, offset + size);   // SHT_NOBITS takes no file space
    }
    return size_t(end);
}

// The names of the functions an ELF image defines (its symbol table's STT_FUNC symbols).
std::set<std::string> elf_functions(const unsigned char *bytes) {
    std::set<std::string> names;
    uint64_t shoff;
    uint16_t shentsize, shnum;
    memcpy(&shoff, bytes + 40, 8);
    memcpy(&shentsize, bytes + 58, 2);
    memcpy(&shnum, bytes + 60, 2);
    auto section = [&](unsigned i) { return bytes + shoff + uint64_t(i) * shentsize; };
    for (unsigned i = 0; i < shnum; i++) {
        uint32_t kind, link;
        uint64_t offset, size, entry;
        memcpy(&kind, section(i) + 4, 4);
        if (kind != 2) continue;   // SHT_SYMTAB
        memcpy(&offset, section(i) + 24, 8);
        memcpy(&size, section(i) + 32, 8);
        memcpy(&link, section(i) + 40, 4);
        memcpy(&entry, section(i) + 56, 8);
        uint64_t strings;
        memcpy(&strings, section(link) + 24, 8);
        for (uint64_t at = offset; entry && at + entry <= offset + size; at += entry) {
            uint32_t name;
            memcpy(&name, bytes + at, 4);
            unsigned char info = bytes[at + 4];
            if ((info & 0xf) == 2 && name) names.insert(reinterpret_cast<const char *>(bytes + strings + name));
        }
    }
    return names;
}

void *open_library(const std::string &path) {
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) fprintf(stderr, "software CUDA device: %s\n", dlerror());
    return handle;
}

}  // namespace

extern "C" {

#define EXPORT __attribute__((visibility("default")))

EXPORT CUresult cuInit(unsigned flags) {
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::recursive_mutex> guard(lock);
    initialized = true;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *version) {
    if (!version) return CUDA_ERROR_INVALID_VALUE;
    *version = 13000;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int *count) {
    if (!count) return CUDA_ERROR_INVALID_VALUE;
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    *count = 1;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal) {
    if (!device) return CUDA_ERROR_INVALID_VALUE;
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int length, CUdevice device) {
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!name || length <= 0) return CUDA_ERROR_INVALID_VALUE;
    snprintf(name, size_t(length), "%s", "ListConRanker software CUDA device");
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute, CUdevice device) {
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!value) return CUDA_ERROR_INVALID_VALUE;
    switch (attribute) {
    case 1: *value = 1024; break;                      // MAX_THREADS_PER_BLOCK
    case 2: case 3: *value = 1024; break;              // MAX_BLOCK_DIM_X, _Y
    case 4: *value = 64; break;                        // MAX_BLOCK_DIM_Z
    case 5: *value = 0x7fffffff; break;                // MAX_GRID_DIM_X
    case 6: case 7: *value = 65535; break;             // MAX_GRID_DIM_Y, _Z
    case 8: *value = int(kDefaultShared); break;       // MAX_SHARED_MEMORY_PER_BLOCK
    case 10: *value = 32; break;                       // WARP_SIZE
    case 16: *value = 1; break;                        // MULTIPROCESSOR_COUNT
    case 75: *value = 9; break;                        // COMPUTE_CAPABILITY_MAJOR
    case 76: *value = 0; break;                        // COMPUTE_CAPABILITY_MINOR
    case 97: *value = int(kMaxShared); break;          // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice device) {
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::recursive_mutex> guard(lock);
    *bytes = memory_limit();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(Context **context, CUdevice device) {
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!context) return CUDA_ERROR_INVALID_VALUE;
    *context = &primary;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(Context *context) {
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (context && context != &primary) return CUDA_ERROR_INVALID_CONTEXT;
    current = context;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *address, size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!address || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (bytes > memory_limit() || used_bytes > memory_limit() - bytes) return CUDA_ERROR_OUT_OF_MEMORY;
    // 256-byte aligned (as cuMemAlloc's are), ending against a page that faults when touched.
    size_t rounded = (bytes + 255) / 256 * 256;
    size_t page = size_t(sysconf(_SC_PAGESIZE));
    size_t mapped = (rounded + page - 1) / page * page + page;
    void *mapping = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
    unsigned char *guard_page = static_cast<unsigned char *>(mapping) + mapped - page;
    mprotect(guard_page, page, PROT_NONE);
    void *memory = guard_page - rounded;
    memset(memory, 0xff, rounded);
    allocations[uintptr_t(memory)] = Allocation{bytes, mapping, mapped};
    used_bytes += bytes;
    allocation_count++;
    *address = CUdeviceptr(uintptr_t(memory));
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr address) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    auto it = allocations.find(uintptr_t(address));
    if (it == allocations.end()) return CUDA_ERROR_INVALID_VALUE;
    used_bytes -= it->second.bytes;
    munmap(it->second.mapping, it->second.mapping_bytes);
    allocations.erase(it);
    free_count++;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!free_bytes || !total_bytes) return CUDA_ERROR_INVALID_VALUE;
    *total_bytes = memory_limit();
    *free_bytes = used_bytes < memory_limit() ? memory_limit() - used_bytes : 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr device, const void *host, size_t bytes, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!valid_stream(stream)) return CUDA_ERROR_INVALID_HANDLE;
    if (!bytes) return CUDA_SUCCESS;
    if (!host || !inside_allocation(device, bytes)) return CUDA_ERROR_INVALID_VALUE;
    device_work([&] { memcpy(reinterpret_cast<void *>(uintptr_t(device)), host, bytes); });
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyDtoHAsync_v2(void *host, CUdeviceptr device, size_t bytes, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!valid_stream(stream)) return CUDA_ERROR_INVALID_HANDLE;
    if (!bytes) return CUDA_SUCCESS;
    if (!host || !inside_allocation(device, bytes)) return CUDA_ERROR_INVALID_VALUE;
    device_work([&] { memcpy(host, reinterpret_cast<const void *>(uintptr_t(device)), bytes); });
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemsetD8Async(CUdeviceptr device, unsigned char value, size_t count, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!valid_stream(stream)) return CUDA_ERROR_INVALID_HANDLE;
    if (!count) return CUDA_SUCCESS;
    if (!inside_allocation(device, count)) return CUDA_ERROR_INVALID_VALUE;
    device_work([&] { memset(reinterpret_cast<void *>(uintptr_t(device)), value, count); });
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamCreate(void **stream, unsigned flags) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!stream || (flags & ~1u)) return CUDA_ERROR_INVALID_VALUE;
    Stream *created = new Stream{int(streams.size()) + 1};
    streams.insert(created);
    *stream = created;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamSynchronize(void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    return valid_stream(stream) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult cuStreamDestroy_v2(void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    Stream *s = static_cast<Stream *>(stream);
    if (!s || !streams.erase(s)) return CUDA_ERROR_INVALID_HANDLE;
    delete s;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventCreate(void **event, unsigned flags) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!event || flags != 0) return CUDA_ERROR_INVALID_VALUE;   // only timing events are emulated
    Event *created = new Event;
    events.insert(created);
    *event = created;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventRecord(void *event, void *stream) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    Event *e = static_cast<Event *>(event);
    if (!events.count(e) || !valid_stream(stream)) return CUDA_ERROR_INVALID_HANDLE;
    e->at = device_busy;
    e->recorded = true;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventElapsedTime(float *milliseconds, void *start, void *end) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    Event *a = static_cast<Event *>(start), *b = static_cast<Event *>(end);
    if (!milliseconds) return CUDA_ERROR_INVALID_VALUE;
    if (!events.count(a) || !events.count(b) || !a->recorded || !b->recorded) return CUDA_ERROR_INVALID_HANDLE;
    *milliseconds = std::chrono::duration<float, std::milli>(b->at - a->at).count();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventDestroy_v2(void *event) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    Event *e = static_cast<Event *>(event);
    if (!e || !events.erase(e)) return CUDA_ERROR_INVALID_HANDLE;
    delete e;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleLoadData(Module **module, const void *image) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!module || !image) return CUDA_ERROR_INVALID_VALUE;
    uint16_t machine = 0, type = 0;
    if (!elf_machine(image, &machine, &type)) return CUDA_ERROR_INVALID_IMAGE;
    Module *loaded = new Module;
    if (machine == 190) {   // EM_CUDA: a real cubin; run the registered sources instead
        if (sources.empty()) {
            fprintf(stderr, "software CUDA device: a GPU cubin cannot run on the CPU; load the emulator's libnvrtc "
                            "or register the kernels' CUDA C with lcr_emulator_add_source\n");
            delete loaded;
            return CUDA_ERROR_INVALID_IMAGE;
        }
        loaded->from_cubin = true;
        loaded->cubin_kernels = elf_functions(static_cast<const unsigned char *>(image));
        for (const std::string &source : sources) {
            std::string log;
            std::string path = lcr_emu::build_module(source, "", log);
            void *library = path.empty() ? nullptr : open_library(path);
            if (!library) {
                fprintf(stderr, "software CUDA device: the kernels do not build for the CPU:\n%s\n", log.c_str());
                delete loaded;
                return CUDA_ERROR_INVALID_IMAGE;
            }
            loaded->libraries.push_back(library);
        }
    } else {
        // A host library from the emulator's libnvrtc: written out once and loaded.
        const unsigned char *bytes = static_cast<const unsigned char *>(image);
        size_t size = elf_size(bytes);
        char path[] = "/tmp/lcr-cuda-module-XXXXXX";
        int fd = mkstemp(path);
        bool written = fd >= 0 && write(fd, bytes, size) == ssize_t(size);
        if (fd >= 0) close(fd);
        void *library = written ? open_library(path) : nullptr;
        unlink(path);
        if (!library) {
            delete loaded;
            return CUDA_ERROR_INVALID_IMAGE;
        }
        loaded->libraries.push_back(library);
    }
    *module = loaded;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleGetFunction(Function **function, Module *module, const char *name) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!function || !module || !name) return CUDA_ERROR_INVALID_VALUE;
    auto found = module->functions.find(name);
    if (found != module->functions.end()) {
        *function = found->second;
        return CUDA_SUCCESS;
    }
    // A real cubin's kernels are its own: a name it lacks is not found, whatever the sources hold.
    if (module->from_cubin && !module->cubin_kernels.count(name)) return CUDA_ERROR_NOT_FOUND;
    std::string symbol = std::string(LCR_EMU_LAUNCHER_PREFIX) + name;
    for (void *library : module->libraries) {
        if (void *launcher = dlsym(library, symbol.c_str())) {
            Function *f = new Function{name, reinterpret_cast<lcr_emu_launcher>(launcher)};
            module->functions[name] = f;
            *function = f;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_FOUND;
}

EXPORT CUresult cuFuncSetAttribute(Function *function, int attribute, int value) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!function) return CUDA_ERROR_INVALID_HANDLE;
    switch (attribute) {
    case 8:   // MAX_DYNAMIC_SHARED_SIZE_BYTES
        if (value < 0 || unsigned(value) > kMaxShared) return CUDA_ERROR_INVALID_VALUE;
        function->max_dynamic_shared = unsigned(value);
        return CUDA_SUCCESS;
    case 9:   // PREFERRED_SHARED_MEMORY_CARVEOUT: a hint
        return value >= -1 && value <= 100 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

EXPORT CUresult cuLaunchKernel(Function *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shared_bytes, void *stream, void **params, void **extra) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (CUresult r = ready()) return r;
    if (!function) return CUDA_ERROR_INVALID_HANDLE;
    if (!valid_stream(stream)) return CUDA_ERROR_INVALID_HANDLE;
    if (extra) return CUDA_ERROR_NOT_SUPPORTED;
    if (!gx || !gy || !gz || gx > 0x7fffffffu || gy > 65535 || gz > 65535) return CUDA_ERROR_INVALID_VALUE;
    if (!bx || !by || !bz || bx > 1024 || by > 1024 || bz > 64 || uint64_t(bx) * by * bz > 1024)
        return CUDA_ERROR_INVALID_VALUE;
    if (shared_bytes > function->max_dynamic_shared) return CUDA_ERROR_INVALID_VALUE;
    char error[512] = "";
    lcr_emu_launch launch{{gx, gy, gz}, {bx, by, bz}, shared_bytes, params, error, sizeof error};
    launch_count++;
    const char *fail = getenv("LISTCONRANKER_CUDA_EMULATOR_FAIL_KERNEL");
    if (fail && function->name == fail) {
        fprintf(stderr, "software CUDA device: kernel %s failed on purpose (LISTCONRANKER_CUDA_EMULATOR_FAIL_KERNEL)\n",
                function->name.c_str());
        sticky = CUDA_ERROR_LAUNCH_FAILED;
        return CUDA_SUCCESS;
    }
    int failed = 0;
    bool fault = false;
    device_work([&] { fault = lcr_emu::faulted([&] { failed = function->launcher(&launch); }); });
    if (fault) {
        fprintf(stderr, "software CUDA device: kernel %s touched %p, outside device memory (or past an allocation's "
                        "end)\n", function->name.c_str(), lcr_emu::fault_address);
        sticky = CUDA_ERROR_ILLEGAL_ADDRESS;   // as on a GPU: the context is unusable from here on
    } else if (failed) {
        fprintf(stderr, "software CUDA device: kernel %s failed: %s\n", function->name.c_str(), error);
        sticky = CUDA_ERROR_LAUNCH_FAILED;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorName(CUresult error, const char **name) {
    if (!name) return CUDA_ERROR_INVALID_VALUE;
    switch (error) {
    case CUDA_SUCCESS: *name = "CUDA_SUCCESS"; break;
    case CUDA_ERROR_INVALID_VALUE: *name = "CUDA_ERROR_INVALID_VALUE"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *name = "CUDA_ERROR_OUT_OF_MEMORY"; break;
    case CUDA_ERROR_NOT_INITIALIZED: *name = "CUDA_ERROR_NOT_INITIALIZED"; break;
    case CUDA_ERROR_INVALID_DEVICE: *name = "CUDA_ERROR_INVALID_DEVICE"; break;
    case CUDA_ERROR_INVALID_IMAGE: *name = "CUDA_ERROR_INVALID_IMAGE"; break;
    case CUDA_ERROR_INVALID_CONTEXT: *name = "CUDA_ERROR_INVALID_CONTEXT"; break;
    case CUDA_ERROR_INVALID_HANDLE: *name = "CUDA_ERROR_INVALID_HANDLE"; break;
    case CUDA_ERROR_NOT_FOUND: *name = "CUDA_ERROR_NOT_FOUND"; break;
    case CUDA_ERROR_ILLEGAL_ADDRESS: *name = "CUDA_ERROR_ILLEGAL_ADDRESS"; break;
    case CUDA_ERROR_LAUNCH_FAILED: *name = "CUDA_ERROR_LAUNCH_FAILED"; break;
    case CUDA_ERROR_NOT_SUPPORTED: *name = "CUDA_ERROR_NOT_SUPPORTED"; break;
    default: *name = nullptr; return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorString(CUresult error, const char **text) {
    if (!text) return CUDA_ERROR_INVALID_VALUE;
    switch (error) {
    case CUDA_SUCCESS: *text = "no error"; break;
    case CUDA_ERROR_INVALID_VALUE: *text = "invalid argument"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *text = "out of memory"; break;
    case CUDA_ERROR_NOT_INITIALIZED: *text = "initialization error"; break;
    case CUDA_ERROR_INVALID_DEVICE: *text = "invalid device ordinal"; break;
    case CUDA_ERROR_INVALID_IMAGE: *text = "device kernel image is invalid"; break;
    case CUDA_ERROR_INVALID_CONTEXT: *text = "invalid device context"; break;
    case CUDA_ERROR_INVALID_HANDLE: *text = "invalid resource handle"; break;
    case CUDA_ERROR_NOT_FOUND: *text = "named symbol not found"; break;
    case CUDA_ERROR_ILLEGAL_ADDRESS: *text = "an illegal memory access was encountered"; break;
    case CUDA_ERROR_LAUNCH_FAILED: *text = "unspecified launch failure"; break;
    case CUDA_ERROR_NOT_SUPPORTED: *text = "operation not supported"; break;
    default: *text = nullptr; return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

// ---- For tests: not part of CUDA --------------------------------------------------------------------

/// Registers CUDA C whose kernels stand in for those of a real cubin (see cuModuleLoadData).
/// Registering the same source again is a no-op. Returns 0.
EXPORT int lcr_emulator_add_source(const char *source) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (!source) return 1;
    for (const std::string &known : sources)
        if (known == source) return 0;
    sources.emplace_back(source);
    return 0;
}

/// Sets the device's memory size in bytes (0: back to LISTCONRANKER_CUDA_EMULATOR_MEMORY or 16 GiB).
EXPORT void lcr_emulator_set_memory_limit(size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    limit_bytes = bytes;
    if (!bytes) memory_limit();
}

/// Adds `nanoseconds` of device work done outside this library (the software cuBLASLt's products)
/// to the device's clock, which events read.
EXPORT void lcr_emulator_device_work(long long nanoseconds) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (nanoseconds > 0) device_busy += std::chrono::nanoseconds(nanoseconds);
}

/// Counters: allocations made and freed, bytes allocated now, kernels launched.
EXPORT void lcr_emulator_counters(unsigned long long *allocated, unsigned long long *freed,
                                  unsigned long long *live_bytes, unsigned long long *launches) {
    std::lock_guard<std::recursive_mutex> guard(lock);
    if (allocated) *allocated = allocation_count;
    if (freed) *freed = free_count;
    if (live_bytes) *live_bytes = used_bytes;
    if (launches) *launches = launch_count;
}

}  // extern "C"
