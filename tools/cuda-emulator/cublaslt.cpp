// libcublasLt.so.13 of the software CUDA device: the cuBLASLt calls the backend makes
// (Sources/CCUDA/cublaslt.c), implementing cuBLASLt's documented contract, not our use of it:
//
//   D = epilogue(alpha · op(A) · op(B) + beta · C (+ bias))
//
// - Matrices are column-major (CUBLASLT_ORDER_COL, the default): element (i, j) of a layout of
//   `rows` x `cols` with leading dimension `ld` (≥ rows) is at [i + j·ld].
// - op(A) is m x k and op(B) k x n, where D is m x n; TRANSA/TRANSB = CUBLAS_OP_T means the layout
//   holds the transpose (A's layout is then k x m). C has D's shape and type; C is not read when
//   beta is 0.
// - Epilogues: DEFAULT, RELU, BIAS, RELU_BIAS, GELU, GELU_BIAS. The bias is a vector of m
//   elements (D's rows), broadcast over the columns and added before the activation. Its type
//   is CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, or D's type when unset (-1). GELU is cuBLASLt's
//   tanh approximation.
// - Compute type CUBLAS_COMPUTE_32F with scale type CUDA_R_32F only (Float32 accumulation, no
//   TF32), alpha and beta host pointers; A/B of CUDA_R_32F with C/D of CUDA_R_32F, or A/B of
//   CUDA_R_16F / CUDA_R_16BF with C/D of the same type or CUDA_R_32F. Anything else is
//   CUBLAS_STATUS_NOT_SUPPORTED; inconsistent shapes are CUBLAS_STATUS_INVALID_VALUE.
// - A layout that reaches past its matrix's allocation faults on the driver's guard page: the call
//   returns CUBLAS_STATUS_EXECUTION_FAILED.
// - Alignment: the heuristic chooses an algorithm for the preference's minimum alignments of A, B,
//   C and D (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES, 256 unless set), and cublasLtMatmul runs it
//   only on pointers that have them: a pointer aligned to less is CUBLAS_STATUS_NOT_SUPPORTED here
//   (on a GPU, an error or a misaligned-address fault), so a caller must state what its pointers
//   have. A bias is held to 16 bytes (what users of the epilogue found it needs; stricter than any
//   documented rule, so that the backend never depends on less).
// - A product's time is the device's: it is added to the software driver's clock, which its events
//   read (lcr_emulator_device_work in the libcuda.so.1 loaded beside this library).
#include "fault_guard.h"

#include <dlfcn.h>
#include <link.h>

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <string>

typedef int cublasStatus_t;

enum : cublasStatus_t {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
};

enum { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 };
enum { CUBLAS_COMPUTE_32F = 68 };
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum {
    EPILOGUE_DEFAULT = 1, EPILOGUE_RELU = 2, EPILOGUE_BIAS = 4, EPILOGUE_RELU_BIAS = 6,
    EPILOGUE_GELU = 32, EPILOGUE_GELU_BIAS = 36,
};

namespace {

// The software driver's lcr_emulator_device_work, from the libcuda.so.1 this process loaded (by
// whatever path, and locally: its symbols are not global), or null without one.
typedef void (*DeviceWork)(long long);
DeviceWork device_work_reporter() {
    static DeviceWork reporter = [] {
        std::string path;
        dl_iterate_phdr([](struct dl_phdr_info *info, size_t, void *found) {
            std::string name = info->dlpi_name ? info->dlpi_name : "";
            const std::string suffix = "/libcuda.so.1";
            if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix)) return 0;
            *static_cast<std::string *>(found) = name;
            return 1;
        }, &path);
        void *driver = path.empty() ? nullptr : dlopen(path.c_str(), RTLD_NOLOAD | RTLD_LAZY);
        return driver ? reinterpret_cast<DeviceWork>(dlsym(driver, "lcr_emulator_device_work")) : nullptr;
    }();
    return reporter;
}

struct Handle { int magic = 0x4c54; };
struct Desc {
    int compute = 0, scale = 0;
    int pointer_mode = 0;
    int transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
    uint32_t epilogue = EPILOGUE_DEFAULT;
    const void *bias = nullptr;
    int bias_type = -1;
};
struct Layout { int type; uint64_t rows, cols; int64_t ld; int order = 0; int batch = 1; };
struct Preference {
    uint64_t workspace = 0;
    uint32_t alignment[4] = {256, 256, 256, 256};   // A, B, C, D
};

// Whether `p` is a multiple of `alignment` bytes.
bool aligned(const void *p, uint64_t alignment) { return alignment == 0 || uintptr_t(p) % alignment == 0; }

struct cublasLtMatmulAlgo_t { uint64_t data[8]; };
struct cublasLtMatmulHeuristicResult_t {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
};

bool is_type(int t) { return t == CUDA_R_32F || t == CUDA_R_16F || t == CUDA_R_16BF; }

float load(const void *p, int type, uint64_t i) {
    switch (type) {
    case CUDA_R_32F: return static_cast<const float *>(p)[i];
    case CUDA_R_16F: return float(static_cast<const _Float16 *>(p)[i]);
    default: {
        uint32_t bits = uint32_t(static_cast<const uint16_t *>(p)[i]) << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    }
}

void store(void *p, int type, uint64_t i, float v) {
    switch (type) {
    case CUDA_R_32F: static_cast<float *>(p)[i] = v; break;
    case CUDA_R_16F: static_cast<_Float16 *>(p)[i] = _Float16(v); break;
    default: {
        uint32_t u;
        memcpy(&u, &v, 4);
        uint16_t bits = (u & 0x7fffffffu) > 0x7f800000u ? uint16_t((u >> 16) | 0x40u)          // NaN stays NaN
                                                         : uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        static_cast<uint16_t *>(p)[i] = bits;   // round to nearest even
    }
    }
}

bool has_bias(uint32_t e) { return e == EPILOGUE_BIAS || e == EPILOGUE_RELU_BIAS || e == EPILOGUE_GELU_BIAS; }

// Checks a problem as cublasLtMatmul and the heuristic do; fills m, n, k.
cublasStatus_t check(const Desc *d, const Layout *a, const Layout *b, const Layout *c, const Layout *dl,
                     uint64_t *m, uint64_t *n, uint64_t *k) {
    if (!d || !a || !b || !c || !dl) return CUBLAS_STATUS_INVALID_VALUE;
    if (d->compute != CUBLAS_COMPUTE_32F || d->scale != CUDA_R_32F || d->pointer_mode != 0)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    for (const Layout *l : {a, b, c, dl}) {
        if (l->order != 0 || l->batch != 1) return CUBLAS_STATUS_NOT_SUPPORTED;
        if (l->ld < int64_t(std::max<uint64_t>(l->rows, 1))) return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (a->type != b->type || c->type != dl->type) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!(a->type == dl->type || dl->type == CUDA_R_32F)) return CUBLAS_STATUS_NOT_SUPPORTED;
    switch (d->epilogue) {
    case EPILOGUE_DEFAULT: case EPILOGUE_RELU: case EPILOGUE_BIAS: case EPILOGUE_RELU_BIAS:
    case EPILOGUE_GELU: case EPILOGUE_GELU_BIAS: break;
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (has_bias(d->epilogue)) {
        int bias_type = d->bias_type == -1 ? dl->type : d->bias_type;
        if (bias_type != dl->type && bias_type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    *m = dl->rows;
    *n = dl->cols;
    uint64_t a_m = d->transa == CUBLAS_OP_N ? a->rows : a->cols, a_k = d->transa == CUBLAS_OP_N ? a->cols : a->rows;
    uint64_t b_k = d->transb == CUBLAS_OP_N ? b->rows : b->cols, b_n = d->transb == CUBLAS_OP_N ? b->cols : b->rows;
    if (a_m != *m || b_n != *n || a_k != b_k || c->rows != *m || c->cols != *n) return CUBLAS_STATUS_INVALID_VALUE;
    *k = a_k;
    return CUBLAS_STATUS_SUCCESS;
}

template <typename T> cublasStatus_t set(T &field, const void *buffer, size_t size) {
    if (!buffer || size != sizeof(T)) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(&field, buffer, sizeof(T));
    return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

#define EXPORT __attribute__((visibility("default")))

EXPORT cublasStatus_t cublasLtCreate(Handle **handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = new Handle;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtDestroy(Handle *handle) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatmulDescCreate(Desc **desc, int compute, int scale) {
    if (!desc) return CUBLAS_STATUS_INVALID_VALUE;
    Desc *d = new Desc;
    d->compute = compute;
    d->scale = scale;
    *desc = d;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatmulDescDestroy(Desc *desc) {
    delete desc;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatmulDescSetAttribute(Desc *d, int attribute, const void *buffer, size_t size) {
    if (!d) return CUBLAS_STATUS_INVALID_VALUE;
    switch (attribute) {
    case 0: return set(d->compute, buffer, size);        // COMPUTE_TYPE
    case 1: return set(d->scale, buffer, size);          // SCALE_TYPE
    case 2: return set(d->pointer_mode, buffer, size);   // POINTER_MODE
    case 3: return set(d->transa, buffer, size);         // TRANSA
    case 4: return set(d->transb, buffer, size);         // TRANSB
    case 7: return set(d->epilogue, buffer, size);       // EPILOGUE
    case 8: return set(d->bias, buffer, size);           // BIAS_POINTER
    case 26: return set(d->bias_type, buffer, size);     // BIAS_DATA_TYPE
    default: return CUBLAS_STATUS_INVALID_VALUE;         // not emulated
    }
}

EXPORT cublasStatus_t cublasLtMatrixLayoutCreate(Layout **layout, int type, uint64_t rows, uint64_t cols, int64_t ld) {
    if (!layout || !is_type(type)) return CUBLAS_STATUS_INVALID_VALUE;
    *layout = new Layout{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatrixLayoutDestroy(Layout *layout) {
    delete layout;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatmulPreferenceCreate(Preference **preference) {
    if (!preference) return CUBLAS_STATUS_INVALID_VALUE;
    *preference = new Preference;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatmulPreferenceDestroy(Preference *preference) {
    delete preference;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatmulPreferenceSetAttribute(Preference *p, int attribute, const void *buffer,
                                                           size_t size) {
    if (!p) return CUBLAS_STATUS_INVALID_VALUE;
    if (attribute == 1) return set(p->workspace, buffer, size);   // MAX_WORKSPACE_BYTES
    if (attribute >= 5 && attribute <= 8) {                       // MIN_ALIGNMENT_{A,B,C,D}_BYTES
        uint32_t value;
        if (cublasStatus_t s = set(value, buffer, size)) return s;
        if (value == 0 || (value & (value - 1)) != 0) return CUBLAS_STATUS_INVALID_VALUE;
        p->alignment[attribute - 5] = value;
        return CUBLAS_STATUS_SUCCESS;
    }
    return CUBLAS_STATUS_INVALID_VALUE;
}

EXPORT cublasStatus_t cublasLtMatmulAlgoGetHeuristic(Handle *handle, Desc *d, Layout *a, Layout *b, Layout *c,
                                                     Layout *dl, Preference *preference, int requested,
                                                     cublasLtMatmulHeuristicResult_t *results, int *returned) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!preference || requested <= 0 || !results || !returned) return CUBLAS_STATUS_INVALID_VALUE;
    uint64_t m, n, k;
    cublasStatus_t status = check(d, a, b, c, dl, &m, &n, &k);
    if (status != CUBLAS_STATUS_SUCCESS) {
        *returned = 0;
        return status;
    }
    memset(&results[0], 0, sizeof results[0]);
    // The algorithm is one for these alignments (kept in its opaque words).
    for (int i = 0; i < 4; i++) results[0].algo.data[i] = preference->alignment[i];
    results[0].workspaceSize = 0;
    results[0].state = CUBLAS_STATUS_SUCCESS;
    results[0].wavesCount = 1.0f;
    *returned = 1;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatmul(Handle *handle, Desc *d, const void *alpha, const void *A, Layout *a,
                                     const void *B, Layout *b, const void *beta, const void *C, Layout *c, void *D,
                                     Layout *dl, const cublasLtMatmulAlgo_t *algo, void *, size_t, void *) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    uint64_t m, n, k;
    cublasStatus_t status = check(d, a, b, c, dl, &m, &n, &k);
    if (status != CUBLAS_STATUS_SUCCESS) return status;
    if (!alpha || !beta || !D || (k && (!A || !B))) return CUBLAS_STATUS_INVALID_VALUE;
    if (has_bias(d->epilogue) && !d->bias) return CUBLAS_STATUS_INVALID_VALUE;
    // Without an algorithm, cuBLASLt asks its heuristic with the default preference: 256 bytes each.
    const Preference defaults;
    const void *operands[4] = {A, B, C, D};
    for (int i = 0; i < 4; i++) {
        uint64_t required = algo ? algo->data[i] : defaults.alignment[i];
        if (operands[i] && !aligned(operands[i], required)) {
            fprintf(stderr, "software cuBLASLt: %c at %p is not %llu-byte aligned, as its algorithm was chosen for\n",
                    "ABCD"[i], operands[i], (unsigned long long)required);
            return CUBLAS_STATUS_NOT_SUPPORTED;
        }
    }
    if (has_bias(d->epilogue) && !aligned(d->bias, 16)) {
        fprintf(stderr, "software cuBLASLt: the bias at %p is not 16-byte aligned\n", d->bias);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    const float alpha_value = *static_cast<const float *>(alpha), beta_value = *static_cast<const float *>(beta);
    if (beta_value != 0.0f && !C) return CUBLAS_STATUS_INVALID_VALUE;
    int bias_type = d->bias_type == -1 ? dl->type : d->bias_type;
    auto start = std::chrono::steady_clock::now();
    bool fault = lcr_emu::faulted([&] {
    for (uint64_t j = 0; j < n; j++) {
        for (uint64_t i = 0; i < m; i++) {
            float sum = 0.0f;
            for (uint64_t l = 0; l < k; l++) {
                float x = d->transa == CUBLAS_OP_N ? load(A, a->type, i + l * uint64_t(a->ld))
                                                   : load(A, a->type, l + i * uint64_t(a->ld));
                float y = d->transb == CUBLAS_OP_N ? load(B, b->type, l + j * uint64_t(b->ld))
                                                   : load(B, b->type, j + l * uint64_t(b->ld));
                sum += x * y;
            }
            float v = alpha_value * sum;
            if (beta_value != 0.0f) v += beta_value * load(C, c->type, i + j * uint64_t(c->ld));
            if (has_bias(d->epilogue)) v += load(d->bias, bias_type, i);
            if (d->epilogue == EPILOGUE_RELU || d->epilogue == EPILOGUE_RELU_BIAS) v = v > 0.0f ? v : 0.0f;
            if (d->epilogue == EPILOGUE_GELU || d->epilogue == EPILOGUE_GELU_BIAS)
                v = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
            store(D, dl->type, i + j * uint64_t(dl->ld), v);
        }
    }
    });
    if (DeviceWork report = device_work_reporter())
        report(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
    if (fault) {
        // A GPU would report an illegal address at the next synchronisation; here the call fails.
        fprintf(stderr, "software cuBLASLt: the product touched %p, past a matrix's memory\n", lcr_emu::fault_address);
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
