// Checks that the software CUDA device keeps CUDA's documented contract, in a process of its
// own (a deadlock leaves the context unusable, as on a GPU). build.sh runs it after each build:
//   selftest OUTDIR    exit 0 when every check holds, else 1 with the failed checks listed.
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

typedef int (*fn)(...);
static int failures = 0;

static void check(bool ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failures++;
}

static const char *kSource = R"(
__device__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
// One block per row: the row's sum, through shared memory and warp shuffles.
extern "C" __global__ void row_sums(const float *x, int n, float *out) {
    extern __shared__ float row[];
    __shared__ float partial[32];
    for (int j = threadIdx.x; j < n; j += blockDim.x) row[j] = x[(long)blockIdx.x * n + j];
    __syncthreads();
    float v = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) v += row[j];
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
    __syncthreads();
    float total = (threadIdx.x & 31) < (blockDim.x >> 5) ? partial[threadIdx.x & 31] : 0.0f;
    total = warp_sum(total);
    if (threadIdx.x == 0) out[blockIdx.x] = total;
}
// The same without the barrier between writing the partial sums and reading them.
extern "C" __global__ void row_sums_racy(const float *x, int n, float *out) {
    __shared__ float partial[32];
    float v = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) v += x[(long)blockIdx.x * n + j];
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
    float total = (threadIdx.x & 31) < (blockDim.x >> 5) ? partial[threadIdx.x & 31] : 0.0f;
    total = warp_sum(total);
    if (threadIdx.x == 0) out[blockIdx.x] = total;
}
// Every thread writes its coordinates, so the launch shape can be checked.
extern "C" __global__ void coordinates(int *out) {
    long t = ((long)blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    long i = t * blockDim.x * blockDim.y * blockDim.z + (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    out[i] = (int)(blockIdx.x + 10 * blockIdx.y + 100 * blockIdx.z + 1000 * threadIdx.x + 100000 * threadIdx.y);
}
extern "C" __global__ void past_the_end(float *x, int n) { x[n + threadIdx.x] = 1.0f; }
extern "C" __global__ void halves(float *x) { x[threadIdx.x] = cvt_f32_f16(cvt_rn_f16_f32(x[threadIdx.x])); }
// Lane 0 waits at __syncthreads while the rest of its warp waits for it in a shuffle.
extern "C" __global__ void deadlock(float *x) {
    if (threadIdx.x == 0) __syncthreads();
    else x[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}
)";

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: selftest OUTDIR\n");
        return 2;
    }
    std::string dir = argv[1];
    void *cu = dlopen((dir + "/libcuda.so.1").c_str(), RTLD_NOW | RTLD_LOCAL);
    void *nv = dlopen((dir + "/libnvrtc.so.13").c_str(), RTLD_NOW | RTLD_LOCAL);
    void *lt = dlopen((dir + "/libcublasLt.so.13").c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!cu || !nv || !lt) {
        printf("FAIL dlopen: %s\n", dlerror());
        return 1;
    }
#define S(h, n) fn n = (fn)dlsym(h, #n)
    S(cu, cuInit); S(cu, cuDevicePrimaryCtxRetain); S(cu, cuCtxSetCurrent); S(cu, cuMemAlloc_v2);
    S(cu, cuMemcpyHtoDAsync_v2); S(cu, cuMemcpyDtoHAsync_v2); S(cu, cuModuleLoadData); S(cu, cuModuleGetFunction);
    S(cu, cuLaunchKernel); S(cu, cuFuncSetAttribute); S(cu, cuStreamSynchronize);
    S(cu, cuEventCreate); S(cu, cuEventRecord); S(cu, cuEventElapsedTime); S(cu, cuEventDestroy_v2);
    S(nv, nvrtcCreateProgram); S(nv, nvrtcCompileProgram); S(nv, nvrtcGetCUBINSize); S(nv, nvrtcGetCUBIN);
    S(nv, nvrtcGetProgramLog);
    S(lt, cublasLtCreate); S(lt, cublasLtMatmulDescCreate); S(lt, cublasLtMatmulDescSetAttribute);
    S(lt, cublasLtMatrixLayoutCreate); S(lt, cublasLtMatmul); S(lt, cublasLtMatmulPreferenceCreate);
    S(lt, cublasLtMatmulPreferenceSetAttribute); S(lt, cublasLtMatmulAlgoGetHeuristic);

    unsigned long long probe = 0;
    check(cuMemAlloc_v2(&probe, 16) == 3, "a call before cuInit is CUDA_ERROR_NOT_INITIALIZED");
    cuInit(0);
    check(cuMemAlloc_v2(&probe, 16) == 201, "memory without a current context is CUDA_ERROR_INVALID_CONTEXT");
    void *context;
    cuDevicePrimaryCtxRetain(&context, 0);
    cuCtxSetCurrent(context);

    void *program;
    nvrtcCreateProgram(&program, kSource, "selftest.cu", 0, nullptr, nullptr);
    int compiled = nvrtcCompileProgram(program, 0, nullptr);
    if (compiled != 0) {
        static char log[65536];
        nvrtcGetProgramLog(program, log);
        printf("FAIL the self-test kernels do not compile:\n%s\n", log);
        return 1;
    }
    size_t size = 0;
    nvrtcGetCUBINSize(program, &size);
    std::vector<char> image(size);
    nvrtcGetCUBIN(program, image.data());
    void *module;
    check(cuModuleLoadData(&module, image.data()) == 0, "the emulator's NVRTC image loads");
    void *sums, *racy, *coordinates, *halves, *deadlock, *missing;
    cuModuleGetFunction(&sums, module, "row_sums");
    cuModuleGetFunction(&racy, module, "row_sums_racy");
    cuModuleGetFunction(&coordinates, module, "coordinates");
    cuModuleGetFunction(&halves, module, "halves");
    cuModuleGetFunction(&deadlock, module, "deadlock");
    check(cuModuleGetFunction(&missing, module, "warp_sum") == 500, "a function that is no kernel is CUDA_ERROR_NOT_FOUND");

    // Reductions, with a block that is not a multiple of the row.
    int n = 300, rows = 3;
    std::vector<float> x(size_t(n) * rows);
    for (size_t i = 0; i < x.size(); i++) x[i] = float(i % 17) - 8.0f + 0.25f * float(i / 17);
    unsigned long long dx, dout;
    cuMemAlloc_v2(&dx, x.size() * 4);
    cuMemAlloc_v2(&dout, rows * 4);
    cuMemcpyHtoDAsync_v2(dx, x.data(), x.size() * 4, nullptr);
    void *params[] = {&dx, &n, &dout};
    check(cuLaunchKernel(sums, rows, 1, 1, 256, 1, 1, n * 4, nullptr, params, nullptr) == 0, "a launch");
    float out[3];
    cuMemcpyDtoHAsync_v2(out, dout, sizeof out, nullptr);
    bool sums_ok = true;
    for (int r = 0; r < rows; r++) {
        double expected = 0;
        for (int j = 0; j < n; j++) expected += x[size_t(r) * n + j];
        sums_ok = sums_ok && fabs(out[r] - expected) < 1e-3 * (1 + fabs(expected));
    }
    check(sums_ok, "__syncthreads, shuffles, static and dynamic shared memory: block sums are right");
    // Timing events (train --profile): the time between two recorded around a launch.
    void *before = nullptr, *after = nullptr, *unrecorded = nullptr;
    check(cuEventCreate(&before, 0u) == 0 && cuEventCreate(&after, 0u) == 0 && cuEventCreate(&unrecorded, 0u) == 0,
          "timing events");
    float milliseconds = -1;
    check(cuEventRecord(before, nullptr) == 0 && cuLaunchKernel(sums, rows, 1, 1, 256, 1, 1, n * 4, nullptr, params, nullptr) == 0
              && cuEventRecord(after, nullptr) == 0 && cuEventElapsedTime(&milliseconds, before, after) == 0
              && milliseconds >= 0,
          "the milliseconds between two events recorded around a launch");
    // The events read the device's clock, which runs only while device work does: the host's own
    // time between them (here a sleep) is not the device's.
    float idle = -1;
    check(cuEventRecord(before, nullptr) == 0 && usleep(20000) == 0 && cuEventRecord(after, nullptr) == 0
              && cuEventElapsedTime(&idle, before, after) == 0 && idle == 0,
          "events tell the device's time: none passes while only the host works");
    check(cuEventElapsedTime(&milliseconds, before, unrecorded) == 400,
          "an event never recorded has no time (CUDA_ERROR_INVALID_HANDLE)");
    check(cuEventDestroy_v2(before) == 0 && cuEventDestroy_v2(after) == 0 && cuEventDestroy_v2(unrecorded) == 0
              && cuEventDestroy_v2(before) == 400,
          "events are destroyed once");
    cuLaunchKernel(racy, rows, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr);
    cuMemcpyDtoHAsync_v2(out, dout, sizeof out, nullptr);
    check(isnan(out[0]) || isnan(out[1]) || isnan(out[2]), "a missing __syncthreads shows (NaN from unwritten shared memory)");

    // Launch shape and limits.
    unsigned long long dc;
    int total = 3 * 2 * 2 * 4 * 3;
    cuMemAlloc_v2(&dc, total * 4);
    void *cparams[] = {&dc};
    check(cuLaunchKernel(coordinates, 3, 2, 2, 4, 3, 1, 0, nullptr, cparams, nullptr) == 0, "a 3-D grid of 2-D blocks");
    std::vector<int> seen(total);
    cuMemcpyDtoHAsync_v2(seen.data(), dc, total * 4, nullptr);
    check(seen[total - 1] == 2 + 10 * 1 + 100 * 1 + 1000 * 3 + 100000 * 2 && seen[5] == 1000 * 1 + 100000 * 1,
          "blockIdx, threadIdx, blockDim and gridDim as CUDA numbers them");
    check(cuLaunchKernel(coordinates, 1, 1, 1, 1025, 1, 1, 0, nullptr, cparams, nullptr) == 1,
          "a block of 1025 threads is CUDA_ERROR_INVALID_VALUE");
    check(cuLaunchKernel(coordinates, 1, 65536, 1, 1, 1, 1, 0, nullptr, cparams, nullptr) == 1,
          "gridDim.y of 65536 is CUDA_ERROR_INVALID_VALUE");
    check(cuLaunchKernel(sums, 1, 1, 1, 256, 1, 1, 64 * 1024, nullptr, params, nullptr) == 1,
          "64 KiB of dynamic shared memory without cuFuncSetAttribute is CUDA_ERROR_INVALID_VALUE");
    check(cuFuncSetAttribute(sums, 8, 64 * 1024) == 0 &&
              cuLaunchKernel(sums, 1, 1, 1, 256, 1, 1, 64 * 1024, nullptr, params, nullptr) == 0,
          "... and allowed once raised");
    check(cuMemcpyDtoHAsync_v2(out, dout, 4096, nullptr) == 1, "a copy past its allocation is CUDA_ERROR_INVALID_VALUE");

    // fp16: round to nearest even, overflow to infinity.
    float h[4] = {1.0f / 3.0f, 1.0f + 1.0f / 2048.0f, 70000.0f, 1.0f + 3.0f / 2048.0f};
    unsigned long long dh;
    cuMemAlloc_v2(&dh, sizeof h);
    cuMemcpyHtoDAsync_v2(dh, h, sizeof h, nullptr);
    void *hparams[] = {&dh};
    cuLaunchKernel(halves, 1, 1, 1, 4, 1, 1, 0, nullptr, hparams, nullptr);
    cuMemcpyDtoHAsync_v2(h, dh, sizeof h, nullptr);
    check(h[0] == 0.333251953125f && h[1] == 1.0f && isinf(h[2]) && h[3] == 1.0f + 4.0f / 2048.0f,
          "cvt.rn.f16.f32 rounds to nearest even");

    // cuBLASLt: D (2 x 3) = op(A) op(B) + bias, A stored transposed (TRANSA = T) with ld 4 > rows,
    // A, B and D in bf16, a Float32 bias, ReLU. (Float32 inputs with a bf16 D is no documented
    // combination: CUBLAS_STATUS_NOT_SUPPORTED.)
    void *handle, *desc, *la, *lb, *lc;
    cublasLtCreate(&handle);
    cublasLtMatmulDescCreate(&desc, 68, 0);
    int transa = 1, transb = 0, epilogue = 6, bias_type = 0;
    float a[8] = {1, 2, 0, 0, -1, 3, 0, 0};    // layout 2 x 2, ld 4: columns (1, 2) and (-1, 3); op(A) = its transpose
    float b[6] = {1, 0, 0, 1, 2, -5};          // 2 x 3, ld 2
    float bias[2] = {0.5f, -100.0f};
    cublasLtMatmulDescSetAttribute(desc, 3, &transa, sizeof transa);
    cublasLtMatmulDescSetAttribute(desc, 4, &transb, sizeof transb);
    cublasLtMatmulDescSetAttribute(desc, 7, &epilogue, sizeof epilogue);
    cublasLtMatmulDescSetAttribute(desc, 26, &bias_type, sizeof bias_type);
    uint16_t a16[8], b16[6];   // A and B in bf16 (these values are exact)
    for (int i = 0; i < 8; i++) { uint32_t u; memcpy(&u, &a[i], 4); a16[i] = uint16_t(u >> 16); }
    for (int i = 0; i < 6; i++) { uint32_t u; memcpy(&u, &b[i], 4); b16[i] = uint16_t(u >> 16); }
    unsigned long long da, db, dbias, dd;
    cuMemAlloc_v2(&da, sizeof a16); cuMemAlloc_v2(&db, sizeof b16); cuMemAlloc_v2(&dbias, sizeof bias); cuMemAlloc_v2(&dd, 12);
    cuMemcpyHtoDAsync_v2(da, a16, sizeof a16, nullptr);
    cuMemcpyHtoDAsync_v2(db, b16, sizeof b16, nullptr);
    cuMemcpyHtoDAsync_v2(dbias, bias, sizeof bias, nullptr);
    const void *bias_pointer = (const void *)(uintptr_t)dbias;
    cublasLtMatmulDescSetAttribute(desc, 8, &bias_pointer, sizeof bias_pointer);
    cublasLtMatrixLayoutCreate(&la, 14, 2ull, 2ull, 4ll);
    cublasLtMatrixLayoutCreate(&lb, 14, 2ull, 3ull, 2ll);
    cublasLtMatrixLayoutCreate(&lc, 14, 2ull, 3ull, 2ll);
    float alpha = 1.0f, beta = 0.0f;
    void *product_start = nullptr, *product_end = nullptr;
    cuEventCreate(&product_start, 0u);
    cuEventCreate(&product_end, 0u);
    cuEventRecord(product_start, nullptr);
    int status = cublasLtMatmul(handle, desc, &alpha, (void *)(uintptr_t)da, la, (void *)(uintptr_t)db, lb, &beta,
                                (void *)(uintptr_t)dd, lc, (void *)(uintptr_t)dd, lc, nullptr, nullptr, (size_t)0, nullptr);
    cuEventRecord(product_end, nullptr);
    float product_milliseconds = -1;
    check(cuEventElapsedTime(&product_milliseconds, product_start, product_end) == 0 && product_milliseconds > 0,
          "cuBLASLt's products run on the device's clock (the driver's events see their time)");
    uint16_t d[6];
    cuMemcpyDtoHAsync_v2(d, dd, sizeof d, nullptr);
    float dv[6];
    for (int i = 0; i < 6; i++) {
        uint32_t bits = uint32_t(d[i]) << 16;
        memcpy(&dv[i], &bits, 4);
    }
    // op(A) = [[1, 2], [-1, 3]]; op(A)·B columns: (1, -1), (2, 3), (-8, -17); + bias (0.5, -100); ReLU.
    check(status == 0 && dv[0] == 1.5f && dv[1] == 0 && dv[2] == 2.5f && dv[3] == 0 && dv[4] == 0 && dv[5] == 0,
          "cuBLASLt: column-major layouts, TRANSA, leading dimensions, bias over D's rows, ReLU, bf16 output");
    void *bad;
    cublasLtMatrixLayoutCreate(&bad, 0, 3ull, 3ull, 3ll);
    check(cublasLtMatmul(handle, desc, &alpha, (void *)(uintptr_t)da, la, (void *)(uintptr_t)db, lb, &beta,
                         (void *)(uintptr_t)dd, bad, (void *)(uintptr_t)dd, bad, nullptr, nullptr, (size_t)0, nullptr) == 7,
          "cuBLASLt: shapes that do not chain are CUBLAS_STATUS_INVALID_VALUE");

    // Alignment: an algorithm is chosen for the preference's minimum alignments (256 bytes unless
    // set) and runs only on pointers that have them. B 4 bytes into its buffer (as a tensor in a flat
    // buffer of parameters is): refused by default, run once the preference says 4 bytes.
    unsigned long long dwide;
    cuMemAlloc_v2(&dwide, sizeof b16 + 4);
    cuMemcpyHtoDAsync_v2(dwide + 4, b16, sizeof b16, nullptr);
    check(cublasLtMatmul(handle, desc, &alpha, (void *)(uintptr_t)da, la, (void *)(uintptr_t)(dwide + 4), lb, &beta,
                         (void *)(uintptr_t)dd, lc, (void *)(uintptr_t)dd, lc, nullptr, nullptr, (size_t)0, nullptr) == 15,
          "cuBLASLt: a pointer under the default 256-byte alignment is CUBLAS_STATUS_NOT_SUPPORTED");
    void *preference;
    cublasLtMatmulPreferenceCreate(&preference);
    uint32_t four = 4, three = 3;
    check(cublasLtMatmulPreferenceSetAttribute(preference, 6, &three, sizeof three) == 7,
          "cuBLASLt: an alignment that is no power of two is CUBLAS_STATUS_INVALID_VALUE");
    cublasLtMatmulPreferenceSetAttribute(preference, 6, &four, sizeof four);
    uint64_t heuristic[16] = {};   // cublasLtMatmulHeuristicResult_t: the algorithm first
    int returned = 0;
    cublasLtMatmulAlgoGetHeuristic(handle, desc, la, lb, lc, lc, preference, 1, heuristic, &returned);
    status = cublasLtMatmul(handle, desc, &alpha, (void *)(uintptr_t)da, la, (void *)(uintptr_t)(dwide + 4), lb, &beta,
                            (void *)(uintptr_t)dd, lc, (void *)(uintptr_t)dd, lc, heuristic, nullptr, (size_t)0, nullptr);
    cuMemcpyDtoHAsync_v2(d, dd, sizeof d, nullptr);
    check(returned == 1 && status == 0 && d[0] == 0x3FC0 && d[2] == 0x4020,
          "... and runs, the same product, with an algorithm chosen for 4-byte aligned B");
    cuMemcpyHtoDAsync_v2(dbias + 4, bias, 4, nullptr);
    bias_pointer = (const void *)(uintptr_t)(dbias + 4);
    cublasLtMatmulDescSetAttribute(desc, 8, &bias_pointer, sizeof bias_pointer);
    check(cublasLtMatmul(handle, desc, &alpha, (void *)(uintptr_t)da, la, (void *)(uintptr_t)db, lb, &beta,
                         (void *)(uintptr_t)dd, lc, (void *)(uintptr_t)dd, lc, nullptr, nullptr, (size_t)0, nullptr) == 15,
          "cuBLASLt: a bias under 16-byte alignment is refused");

    // Writing past an allocation faults (in a child process: the error sticks to the context).
    void *past;
    cuModuleGetFunction(&past, module, "past_the_end");
    pid_t child = fork();
    if (child == 0) {
        unsigned long long dp;
        int count = 1024;
        cuMemAlloc_v2(&dp, count * 4);
        void *pparams[] = {&dp, &count};
        int launched = cuLaunchKernel(past, 1, 1, 1, 64, 1, 1, 0, nullptr, pparams, nullptr);
        _exit(launched == 0 && cuStreamSynchronize(nullptr) == 700 && cuMemAlloc_v2(&probe, 16) == 700 ? 0 : 1);
    }
    int child_status = 0;
    waitpid(child, &child_status, 0);
    check(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0,
          "a kernel writing past its allocation fails with CUDA_ERROR_ILLEGAL_ADDRESS, sticky");

    // Last: a deadlock fails the launch's context for good.
    check(cuLaunchKernel(deadlock, 1, 1, 1, 64, 1, 1, 0, nullptr, hparams, nullptr) == 0, "a deadlocking launch is queued");
    check(cuStreamSynchronize(nullptr) == 719 && cuMemAlloc_v2(&probe, 16) == 719,
          "... and its failure sticks: CUDA_ERROR_LAUNCH_FAILED from every later call");

    printf("%s\n", failures ? "software CUDA device: self-test FAILED" : "software CUDA device: self-test passed");
    return failures ? 1 : 0;
}
