// CUDA C on the CPU: the prelude the software CUDA device compiles every kernel module with
// (clang++, C++20), ahead of the module's own source.
//
// Execution model (correctness, not speed; tests use tiny shapes):
// - A grid runs one block at a time. Each thread of a block is a fiber (its own stack, switched
//   cooperatively on this one OS thread), so `__syncthreads` is a real barrier of the block's
//   threads and `__shfl_*_sync`/`__syncwarp` a real lock-step exchange among a warp's 32 lanes.
// - A thread runs until it blocks at a barrier (or ends). Threads run from the highest index down
//   in even blocks and from the lowest up in odd ones, so a missing barrier makes some thread read
//   shared memory its neighbours have not written yet.
// - Dynamic shared memory (`extern __shared__`) is filled with 0xff bytes (NaN) before each
//   block, as device memory is when allocated: reading what nobody wrote shows up as NaN.
// - Threads that have exited count as arrived at `__syncthreads` (as on the hardware). A
//   shuffle that reads an exited lane returns NaN bits (CUDA: undefined). A block whose live
//   threads all wait on barriers that can never open is a deadlock: the launch fails.
// - Warp-synchronous calls take every live lane of the warp: a `mask` naming fewer lanes is not
//   emulated (kernels here use the full mask).
// - Static `__shared__` arrays are function statics (one copy, used by one block at a time),
//   filled with 0xff bytes before each block too.
// - A barrier opens when its last thread arrives; that thread waits for the next round like the
//   others, so after every barrier the threads again run in their block's order.
// What it cannot show: timing, memory-model races between blocks, warp scheduling beyond the
// order above, the GPU's own rounding in expf/erff (the host's libm stands in).
#ifndef LCR_EMU_RUNTIME_H
#define LCR_EMU_RUNTIME_H

#define LCR_CUDA_EMULATOR 1

// ---- Keywords -------------------------------------------------------------------------------------
#ifdef LCR_EMU_SCAN
// The scan pass (clang++ -E) only needs to see which functions are kernels.
#define __global__ __lcr_global__
#else
#define __global__
#endif
#define __device__
#define __host__
// Static shared arrays are function statics in one ELF section, which the runtime fills with
// 0xff bytes (NaN) before each block, as it does dynamic shared memory.
#define __shared__ static __attribute__((section("lcr_emu_shared")))
#define __constant__ static
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __restrict__ __restrict

#ifndef LCR_EMU_SCAN
#include <cmath>
#include <math.h>   // expf, erff, fmaxf and the other float functions, unqualified as in CUDA
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>

#include "module_abi.h"

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x = 1, y = 1, z = 1;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace lcr_emu {

// ---- Fibers -----------------------------------------------------------------------------------------
// A context switch saves the callee-saved registers and the stack pointer (x86-64: a few
// instructions, no system call); elsewhere ucontext does the same, slower.
#if defined(__x86_64__)
extern "C" void lcr_emu_switch(void **save_sp, void *load_sp);
asm(R"(
    .text
    .p2align 4
    .hidden lcr_emu_switch
    .type lcr_emu_switch,@function
lcr_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size lcr_emu_switch, .-lcr_emu_switch
)");
#else
}  // namespace lcr_emu
#include <ucontext.h>
namespace lcr_emu {
#endif

constexpr unsigned kMaxThreads = 1024;
constexpr size_t kStackBytes = 256 * 1024;

struct Fiber {
    void *stack = nullptr;
#if defined(__x86_64__)
    void *sp = nullptr;
#else
    ucontext_t context;
#endif
    uint3 thread;
    unsigned linear = 0;
    bool done = false;
};

struct Block {
    dim3 grid, block, index;
    unsigned threads = 0;
    Fiber fibers[kMaxThreads];
    unsigned current = 0;
#if defined(__x86_64__)
    void *scheduler_sp = nullptr;
#else
    ucontext_t scheduler;
#endif
    // __syncthreads
    unsigned live = 0, arrived = 0, generation = 0;
    // Warps: live lanes, lanes arrived at the warp barrier, its generation, shuffle slots.
    unsigned warp_live[kMaxThreads / 32] = {}, warp_arrived[kMaxThreads / 32] = {}, warp_generation[kMaxThreads / 32] = {};
    uint64_t slots[kMaxThreads / 32][32] = {};
    unsigned char *dynamic_shared = nullptr;
    size_t dynamic_capacity = 0;
    bool progress = false;
    const char *trap = nullptr;
    void (*body)(void *) = nullptr;
    void *body_context = nullptr;
};

inline Block block_state;

// The bounds of the static shared arrays' section (defined by the linker when there are any).
extern "C" unsigned char __start_lcr_emu_shared[] __attribute__((weak, visibility("hidden")));
extern "C" unsigned char __stop_lcr_emu_shared[] __attribute__((weak, visibility("hidden")));

inline void poison_shared_memory() {
    Block &b = block_state;
    if (b.dynamic_shared) std::memset(b.dynamic_shared, 0xff, b.dynamic_capacity);
    if (__start_lcr_emu_shared && __stop_lcr_emu_shared > __start_lcr_emu_shared)
        std::memset(__start_lcr_emu_shared, 0xff, size_t(__stop_lcr_emu_shared - __start_lcr_emu_shared));
}
inline uint3 current_thread;

inline Fiber &self() { return block_state.fibers[block_state.current]; }

// Back to the scheduler; returns when the scheduler resumes this thread.
inline void yield() {
    Block &b = block_state;
#if defined(__x86_64__)
    lcr_emu_switch(&self().sp, b.scheduler_sp);
#else
    swapcontext(&self().context, &b.scheduler);
#endif
}

inline void release_warp(unsigned warp) {
    Block &b = block_state;
    b.warp_arrived[warp] = 0;
    b.warp_generation[warp]++;
    b.progress = true;
}

inline void release_block() {
    Block &b = block_state;
    b.arrived = 0;
    b.generation++;
    b.progress = true;
}

[[noreturn]] inline void finish_thread() {
    Block &b = block_state;
    Fiber &f = self();
    f.done = true;
    b.progress = true;
    b.live--;
    unsigned warp = f.linear / 32;
    b.warp_live[warp]--;
    // Exited threads count as arrived: a barrier the others wait at may now be complete.
    if (b.arrived && b.arrived >= b.live) release_block();
    if (b.warp_arrived[warp] && b.warp_arrived[warp] >= b.warp_live[warp]) release_warp(warp);
    yield();
    __builtin_trap();   // a finished fiber is never resumed
}

inline void fiber_main() {
    block_state.body(block_state.body_context);
    finish_thread();
}

#if defined(__x86_64__)
extern "C" [[noreturn]] inline void lcr_emu_fiber_start() {
    fiber_main();
    __builtin_trap();
}
#endif

inline void prepare_fiber(Fiber &f) {
    if (!f.stack) {
        f.stack = std::aligned_alloc(64, kStackBytes);
        if (!f.stack) std::abort();
    }
#if defined(__x86_64__)
    uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack) + kStackBytes) & ~uintptr_t(15);
    uint64_t *slot = reinterpret_cast<uint64_t *>(top);
    slot[-1] = 0;                                                    // where a return address would be
    slot[-2] = reinterpret_cast<uint64_t>(&lcr_emu_fiber_start);     // `ret` of the first switch lands here
    for (int i = 3; i <= 8; i++) slot[-i] = 0;                       // rbp rbx r12 r13 r14 r15
    slot[-9] = 0x1f80ull | (0x037full << 32);                        // MXCSR and the x87 control word
    f.sp = &slot[-9];
#else
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack;
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = nullptr;
    makecontext(&f.context, (void (*)())fiber_main, 0);
#endif
}

inline void resume(Fiber &f) {
    Block &b = block_state;
#if defined(__x86_64__)
    lcr_emu_switch(&b.scheduler_sp, f.sp);
#else
    swapcontext(&b.scheduler, &f.context);
#endif
}

inline int fail(lcr_emu_launch *launch, const char *kind, const char *detail) {
    const Block &b = block_state;
    if (launch->error && launch->error_len)
        snprintf(launch->error, launch->error_len, "%s in block (%u, %u, %u) of a grid (%u, %u, %u) x (%u, %u, %u): %s",
                 kind, b.index.x, b.index.y, b.index.z, b.grid.x, b.grid.y, b.grid.z, b.block.x, b.block.y, b.block.z,
                 detail);
    return 1;
}

// Runs `body` as every thread of every block of the launch's grid.
inline int run_grid(lcr_emu_launch *launch, void (*body)(void *), void *context) {
    Block &b = block_state;
    b.grid = dim3(launch->grid[0], launch->grid[1], launch->grid[2]);
    b.block = dim3(launch->block[0], launch->block[1], launch->block[2]);
    b.threads = b.block.x * b.block.y * b.block.z;
    if (b.threads == 0 || b.threads > kMaxThreads) return fail(launch, "bad launch", "block size");
    b.body = body;
    b.body_context = context;
    b.trap = nullptr;
    if (launch->shared_bytes > b.dynamic_capacity) {
        std::free(b.dynamic_shared);
        b.dynamic_shared = static_cast<unsigned char *>(std::aligned_alloc(256, (launch->shared_bytes + 255) / 256 * 256));
        b.dynamic_capacity = launch->shared_bytes;
    }
    for (unsigned t = 0; t < b.threads; t++) {
        Fiber &f = b.fibers[t];
        f.linear = t;
        f.thread = uint3{t % b.block.x, (t / b.block.x) % b.block.y, t / (b.block.x * b.block.y)};
    }
    for (unsigned bz = 0; bz < b.grid.z; bz++)
    for (unsigned by = 0; by < b.grid.y; by++)
    for (unsigned bx = 0; bx < b.grid.x; bx++) {
        b.index = dim3(bx, by, bz);
        // Blocks alternate the order their threads run in, so a missing barrier shows whichever
        // way the data flows between threads.
        bool descending = (bx + by + bz) % 2 == 0;
        poison_shared_memory();
        b.live = b.threads;
        b.arrived = 0;
        unsigned warps = (b.threads + 31) / 32;
        for (unsigned w = 0; w < warps; w++) {
            b.warp_live[w] = w + 1 < warps || b.threads % 32 == 0 ? 32 : b.threads % 32;
            b.warp_arrived[w] = 0;
        }
        for (unsigned t = 0; t < b.threads; t++) {
            b.fibers[t].done = false;
            prepare_fiber(b.fibers[t]);
        }
        while (b.live) {
            b.progress = false;
            for (unsigned k = 0; k < b.threads; k++) {
                unsigned t = descending ? b.threads - 1 - k : k;
                Fiber &f = b.fibers[t];
                if (f.done) continue;
                b.current = t;
                current_thread = f.thread;
                resume(f);
                if (b.trap) return fail(launch, "a kernel trapped", b.trap);
            }
            if (b.live && !b.progress)
                return fail(launch, "deadlock", "every live thread waits at a barrier that cannot open "
                                                "(__syncthreads or a warp-synchronous call not reached by all threads)");
        }
    }
    return 0;
}

// ---- Barriers ---------------------------------------------------------------------------------------
inline void syncthreads() {
    Block &b = block_state;
    unsigned generation = b.generation;
    if (++b.arrived >= b.live) release_block();
    do yield(); while (b.generation == generation);
    b.progress = true;
}

inline void warp_barrier() {
    Block &b = block_state;
    unsigned warp = self().linear / 32;
    unsigned generation = b.warp_generation[warp];
    if (++b.warp_arrived[warp] >= b.warp_live[warp]) release_warp(warp);
    do yield(); while (b.warp_generation[warp] == generation);
    b.progress = true;
}

inline bool lane_live(unsigned warp, unsigned lane) {
    unsigned t = warp * 32 + lane;
    return t < block_state.threads && !block_state.fibers[t].done;
}

// Every live lane of the warp posts `value`; each gets lane `source(lane)`'s (NaN bits when
// that lane has exited or is outside the block).
template <typename T, typename Source>
inline T exchange(T value, Source source) {
    static_assert(sizeof(T) <= 8, "shuffles move 4 or 8 bytes");
    Block &b = block_state;
    unsigned warp = self().linear / 32, lane = self().linear % 32;
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    b.slots[warp][lane] = bits;
    warp_barrier();
    int from = source(int(lane));
    uint64_t read = from >= 0 && from < 32 && lane_live(warp, unsigned(from)) ? b.slots[warp][from] : ~uint64_t(0);
    warp_barrier();   // nobody posts the next value before everyone has read this one
    T result;
    std::memcpy(&result, &read, sizeof(T));
    return result;
}

}  // namespace lcr_emu

// ---- Built-in variables and functions ----------------------------------------------------------------
#define threadIdx (lcr_emu::current_thread)
#define blockIdx (lcr_emu::block_state.index)
#define blockDim (lcr_emu::block_state.block)
#define gridDim (lcr_emu::block_state.grid)
#define warpSize 32

inline void __syncthreads() { lcr_emu::syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { lcr_emu::warp_barrier(); }
inline void __threadfence() {}
inline void __threadfence_block() {}
[[noreturn]] inline void __trap() {
    lcr_emu::block_state.trap = "__trap()";
    lcr_emu::yield();
    __builtin_trap();
}

template <typename T> inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
    return lcr_emu::exchange(v, [&](int lane) { return (lane & ~(width - 1)) + (src & (width - 1)); });
}
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
    return lcr_emu::exchange(v, [&](int lane) {
        int to = lane ^ mask;
        return (to & ~(width - 1)) == (lane & ~(width - 1)) ? to : lane;
    });
}
template <typename T> inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
    return lcr_emu::exchange(v, [&](int lane) {
        int to = lane + int(delta);
        return (to & ~(width - 1)) == (lane & ~(width - 1)) ? to : lane;
    });
}
template <typename T> inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
    return lcr_emu::exchange(v, [&](int lane) {
        int to = lane - int(delta);
        return to >= (lane & ~(width - 1)) ? to : lane;
    });
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
    unsigned result = 0;
    for (int lane = 0; lane < 32; lane++) {
        int p = lcr_emu::exchange(predicate ? 1 : 0, [&](int) { return lane; });
        if (p == 1 && (mask >> lane & 1)) result |= 1u << lane;
    }
    return result;
}
inline int __any_sync(unsigned mask, int p) { return __ballot_sync(mask, p) != 0; }
inline int __all_sync(unsigned mask, int p) {
    unsigned live = __ballot_sync(mask, 1);
    return (__ballot_sync(mask, p) & live) == live;
}

// One OS thread runs every fiber, and a fiber runs until it blocks: atomics are plain updates.
template <typename T> inline T atomicAdd(T *p, T v) { T old = *p; *p = old + v; return old; }
template <typename T> inline T atomicSub(T *p, T v) { T old = *p; *p = old - v; return old; }
template <typename T> inline T atomicExch(T *p, T v) { T old = *p; *p = v; return old; }
template <typename T> inline T atomicMax(T *p, T v) { T old = *p; if (v > old) *p = v; return old; }
template <typename T> inline T atomicMin(T *p, T v) { T old = *p; if (v < old) *p = v; return old; }
template <typename T> inline T atomicCAS(T *p, T compare, T v) { T old = *p; if (old == compare) *p = v; return old; }

inline float __int_as_float(int v) { return __builtin_bit_cast(float, v); }
inline int __float_as_int(float v) { return __builtin_bit_cast(int, v); }
inline float __uint_as_float(unsigned v) { return __builtin_bit_cast(float, v); }
inline unsigned __float_as_uint(float v) { return __builtin_bit_cast(unsigned, v); }
inline double __longlong_as_double(long long v) { return __builtin_bit_cast(double, v); }
inline long long __double_as_longlong(double v) { return __builtin_bit_cast(long long, v); }
template <typename T> inline T __ldg(const T *p) { return *p; }

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
// IEEE operations rounded to nearest even, each on its own (a GPU never fuses them into an FMA): one
// C++ operation each, returned as float, which the compiler cannot fuse across calls either.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }

// The PTX conversions cvt.f32.f16 and cvt.rn.f16.f32, which kernels reach through inline PTX on a
// GPU (`#ifdef __CUDA_ARCH__`); here the host's IEEE half does the same rounding (nearest even).
inline float cvt_f32_f16(unsigned short bits) { return float(__builtin_bit_cast(_Float16, bits)); }
inline unsigned short cvt_rn_f16_f32(float v) { return __builtin_bit_cast(unsigned short, _Float16(v)); }

namespace lcr_emu {
// Dynamic shared memory of the block (what `extern __shared__ T name[];` names on a GPU).
inline void *dynamic_shared() { return block_state.dynamic_shared; }

// Calls `kernel` with its parameters read from cuLaunchKernel's array of pointers, each as the
// type the kernel declares (as the driver copies sizeof(parameter) bytes from each pointer).
template <typename... A, size_t... I>
inline void call_kernel(void (*kernel)(A...), void **params, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<A> *>(params[I])...);
}

template <typename... A>
inline int launch(void (*kernel)(A...), lcr_emu_launch *launch) {
    struct Context { void (*kernel)(A...); void **params; } context{kernel, launch->params};
    return run_grid(launch, [](void *c) {
        auto *context = static_cast<Context *>(c);
        call_kernel(context->kernel, context->params, std::index_sequence_for<A...>{});
    }, &context);
}
}  // namespace lcr_emu

#endif  // LCR_EMU_SCAN
#endif
