// Row-major linear layers on cuBLASLt: y [rows, n] = x [rows, k] · W [n, k]ᵀ (+ bias) (then ReLU).
// cuBLASLt is column-major: y row-major is yᵀ column-major [n, rows] = op(W)·xᵀ with W read as the
// column-major [k, n] (transposed: OP_T) and x as the column-major [k, rows] (OP_N).
#include "CCUDA.h"
#include "cuda_abi.h"
#include "loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    cublasLtCreate_t create;
    cublasLtDestroy_t destroy;
    cublasLtMatmulDescCreate_t desc_create;
    cublasLtMatmulDescDestroy_t desc_destroy;
    cublasLtMatmulDescSetAttribute_t desc_set;
    cublasLtMatrixLayoutCreate_t layout_create;
    cublasLtMatrixLayoutDestroy_t layout_destroy;
    cublasLtMatmulPreferenceCreate_t preference_create;
    cublasLtMatmulPreferenceDestroy_t preference_destroy;
    cublasLtMatmulPreferenceSetAttribute_t preference_set;
    cublasLtMatmulAlgoGetHeuristic_t heuristic;
    cublasLtMatmul_t matmul;
} lt;

int lcr_cuda_resolve_cublaslt(char *err, size_t err_len) {
    static const char *const names[] = {
        "cublasLtCreate", "cublasLtDestroy", "cublasLtMatmulDescCreate", "cublasLtMatmulDescDestroy",
        "cublasLtMatmulDescSetAttribute", "cublasLtMatrixLayoutCreate", "cublasLtMatrixLayoutDestroy",
        "cublasLtMatmulPreferenceCreate", "cublasLtMatmulPreferenceDestroy", "cublasLtMatmulPreferenceSetAttribute",
        "cublasLtMatmulAlgoGetHeuristic", "cublasLtMatmul"};
    return lcr_cuda_resolve(LCR_LIB_CUBLASLT, names, (void **)&lt, sizeof names / sizeof names[0], err, err_len);
}

// One product shape, planned once: descriptors and the algorithm the heuristic chose. Packed
// batches round their rows up to a multiple of 32, so a service meets few distinct shapes. The
// operands' alignments are part of the shape: an algorithm chosen for one may not run on less.
typedef struct {
    int64_t rows, n, k;
    int input_type, output_type, epilogue;
    uint32_t align_weight, align_x, align_y;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
    int used;
    unsigned long long last_use;
} plan;

enum { PLAN_SLOTS = 256 };

struct lcr_cublaslt {
    cublasLtHandle_t handle;
    CUdeviceptr workspace;
    size_t workspace_bytes;
    plan plans[PLAN_SLOTS];
    unsigned long long clock;
    pthread_mutex_t lock;
};

// The largest power of two, up to 256, that divides `address`: the alignment cuBLASLt may assume of an
// operand. Its heuristic assumes 256 bytes unless told less (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*),
// and an algorithm chosen for 256 need not run on a pointer into a flat buffer of parameters at an
// offset of a few floats, or a bf16 copy's at 2 bytes. Told the truth, it picks one that does.
static uint32_t alignment_of(uint64_t address) {
    uint32_t alignment = 256;
    while (alignment > 1 && (address & (alignment - 1)) != 0) alignment >>= 1;
    return alignment;
}

// The preference's minimum alignments of cuBLASLt's A, B, C and D.
static void prefer_alignments(cublasLtMatmulPreference_t preference, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    lt.preference_set(preference, LCR_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &a, sizeof a);
    lt.preference_set(preference, LCR_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &b, sizeof b);
    lt.preference_set(preference, LCR_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &c, sizeof c);
    lt.preference_set(preference, LCR_CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &d, sizeof d);
}

static void describe_status(cublasStatus_t status, const char *context, char *err, size_t err_len) {
    char number[32];
    snprintf(number, sizeof number, "%d", status);
    lcr_cuda_message(err, err_len, "%s failed with cuBLAS status %s", context, number);
}

int lcr_cublaslt_create(lcr_cublaslt **out, size_t workspace_bytes, char *err, size_t err_len) {
    *out = NULL;
    if (!lt.create) {
        lcr_cuda_message(err, err_len, "cuBLASLt is not loaded%s%s", "", "");
        return 1;
    }
    lcr_cublaslt *created = calloc(1, sizeof *created);
    if (!created) {
        lcr_cuda_message(err, err_len, "out of host memory for cuBLASLt%s%s", "", "");
        return 1;
    }
    cublasStatus_t status = lt.create(&created->handle);
    if (status != 0) {
        describe_status(status, "cublasLtCreate", err, err_len);
        free(created);
        return 1;
    }
    uint64_t workspace = 0;
    if (workspace_bytes && lcr_cuda_alloc(&workspace, workspace_bytes, err, err_len)) {
        lt.destroy(created->handle);
        free(created);
        return 1;
    }
    created->workspace = workspace;
    created->workspace_bytes = workspace_bytes;
    pthread_mutex_init(&created->lock, NULL);
    *out = created;
    return 0;
}

static void release_plan(plan *p) {
    if (!p->used) return;
    lt.layout_destroy(p->a);
    lt.layout_destroy(p->b);
    lt.layout_destroy(p->c);
    lt.desc_destroy(p->desc);
    p->used = 0;
}

void lcr_cublaslt_destroy(lcr_cublaslt *handle) {
    if (!handle) return;
    for (int i = 0; i < PLAN_SLOTS; i++) release_plan(&handle->plans[i]);
    lcr_cuda_release(handle->workspace);
    lt.destroy(handle->handle);
    pthread_mutex_destroy(&handle->lock);
    free(handle);
}

static int make_plan(lcr_cublaslt *handle, plan *p, char *err, size_t err_len) {
    cublasStatus_t s = lt.desc_create(&p->desc, LCR_CUBLAS_COMPUTE_32F, LCR_CUDA_F32);
    if (s != 0) { describe_status(s, "cublasLtMatmulDescCreate", err, err_len); return 1; }
    int transa = LCR_CUBLAS_OP_T, transb = LCR_CUBLAS_OP_N;
    int epilogue = p->epilogue == LCR_EPILOGUE_BIAS ? LCR_CUBLASLT_EPILOGUE_BIAS
                 : p->epilogue == LCR_EPILOGUE_RELU_BIAS ? LCR_CUBLASLT_EPILOGUE_RELU_BIAS
                 : p->epilogue == LCR_EPILOGUE_RELU ? LCR_CUBLASLT_EPILOGUE_RELU
                 : LCR_CUBLASLT_EPILOGUE_DEFAULT;
    int bias_type = LCR_CUDA_F32;
    lt.desc_set(p->desc, LCR_CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa);
    lt.desc_set(p->desc, LCR_CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb);
    lt.desc_set(p->desc, LCR_CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue);
    if (p->epilogue == LCR_EPILOGUE_BIAS || p->epilogue == LCR_EPILOGUE_RELU_BIAS)
        lt.desc_set(p->desc, LCR_CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type);
    if ((s = lt.layout_create(&p->a, p->input_type, (uint64_t)p->k, (uint64_t)p->n, p->k)) != 0 ||
        (s = lt.layout_create(&p->b, p->input_type, (uint64_t)p->k, (uint64_t)p->rows, p->k)) != 0 ||
        (s = lt.layout_create(&p->c, p->output_type, (uint64_t)p->n, (uint64_t)p->rows, p->n)) != 0) {
        describe_status(s, "cublasLtMatrixLayoutCreate", err, err_len);
        return 1;
    }
    cublasLtMatmulPreference_t preference;
    if ((s = lt.preference_create(&preference)) != 0) {
        describe_status(s, "cublasLtMatmulPreferenceCreate", err, err_len);
        return 1;
    }
    size_t workspace = handle->workspace_bytes;
    lt.preference_set(preference, LCR_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof workspace);
    prefer_alignments(preference, p->align_weight, p->align_x, p->align_y, p->align_y);
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    s = lt.heuristic(handle->handle, p->desc, p->a, p->b, p->c, p->c, preference, 1, &result, &found);
    lt.preference_destroy(preference);
    if (s != 0 || found < 1) {
        char shape[128];
        snprintf(shape, sizeof shape, "[%lld, %lld] x [%lld, %lld]^T, types %d -> %d, epilogue %d",
                 (long long)p->rows, (long long)p->k, (long long)p->n, (long long)p->k, p->input_type,
                 p->output_type, p->epilogue);
        lcr_cuda_message(err, err_len, "cuBLASLt has no algorithm for the product %s%s", shape, "");
        return 1;
    }
    p->algo = result.algo;
    p->used = 1;
    return 0;
}

// The plan for a shape: found, or made in the least recently used slot.
static plan *find_plan(lcr_cublaslt *handle, int64_t rows, int64_t n, int64_t k, int input_type, int output_type,
                       int epilogue, uint32_t align_weight, uint32_t align_x, uint32_t align_y, char *err,
                       size_t err_len) {
    plan *oldest = &handle->plans[0];
    handle->clock++;
    for (int i = 0; i < PLAN_SLOTS; i++) {
        plan *p = &handle->plans[i];
        if (p->used && p->rows == rows && p->n == n && p->k == k && p->input_type == input_type &&
            p->output_type == output_type && p->epilogue == epilogue && p->align_weight == align_weight &&
            p->align_x == align_x && p->align_y == align_y) {
            p->last_use = handle->clock;
            return p;
        }
        if (!p->used || (oldest->used && p->last_use < oldest->last_use)) oldest = p;
    }
    release_plan(oldest);
    memset(oldest, 0, sizeof *oldest);
    oldest->rows = rows; oldest->n = n; oldest->k = k;
    oldest->input_type = input_type; oldest->output_type = output_type; oldest->epilogue = epilogue;
    oldest->align_weight = align_weight; oldest->align_x = align_x; oldest->align_y = align_y;
    if (make_plan(handle, oldest, err, err_len)) {
        release_plan(oldest);
        memset(oldest, 0, sizeof *oldest);
        return NULL;
    }
    oldest->last_use = handle->clock;
    return oldest;
}

int lcr_cublaslt_linear(lcr_cublaslt *handle, void *stream, uint64_t x, uint64_t weight, uint64_t bias, uint64_t y,
                        int64_t rows, int64_t n, int64_t k, lcr_cuda_type input_type, lcr_cuda_type output_type,
                        lcr_cuda_epilogue epilogue, char *err, size_t err_len) {
    if (rows == 0) return 0;
    pthread_mutex_lock(&handle->lock);
    // Without a bias, the bias epilogues become their activation alone (ReLU must not be lost).
    lcr_cuda_epilogue effective = bias ? epilogue
                                : epilogue == LCR_EPILOGUE_RELU_BIAS || epilogue == LCR_EPILOGUE_RELU ? LCR_EPILOGUE_RELU
                                : LCR_EPILOGUE_NONE;
    plan *p = find_plan(handle, rows, n, k, input_type, output_type, effective, alignment_of(weight), alignment_of(x),
                        alignment_of(y), err, err_len);
    if (!p) {
        pthread_mutex_unlock(&handle->lock);
        return 1;
    }
    if (bias) {
        const void *bias_pointer = (const void *)(uintptr_t)bias;
        lt.desc_set(p->desc, LCR_CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_pointer, sizeof bias_pointer);
    }
    const float alpha = 1.0f, beta = 0.0f;
    cublasStatus_t s = lt.matmul(handle->handle, p->desc, &alpha, (const void *)(uintptr_t)weight, p->a,
                                 (const void *)(uintptr_t)x, p->b, &beta, (const void *)(uintptr_t)y, p->c,
                                 (void *)(uintptr_t)y, p->c, &p->algo, (void *)(uintptr_t)handle->workspace,
                                 handle->workspace_bytes, (CUstream)stream);
    pthread_mutex_unlock(&handle->lock);
    if (s != 0) {
        describe_status(s, "cublasLtMatmul", err, err_len);
        return 1;
    }
    return 0;
}

// ---- General products for training -------------------------------------------------------------
// Row-major C[m, n] = op(A)·op(B) + beta·C with leading dimensions, Float32 in and out, Float32
// accumulation without TF32: the backward's dX = dY·W, dW += dYᵀ·X, and the score head's products on
// halves of a weight (ld = 2W). Read column-major, row-major C is Cᵀ [n, m] = op(B)ᵀ·op(A)ᵀ: cuBLASLt's
// A is our B (col-major [n, k] as stored when B is not transposed, [k, n] read transposed when it
// is) and its B is our A likewise. One descriptor set per call, the algorithm from the heuristic:
// training shapes change with every batch, and a product of a training step dwarfs this set-up.
//
// A and B may be bf16 (or fp16) instead: mixed precision as autocast does it,
// 16-bit inputs with Float32 accumulation into a Float32 C (beta = 1 still adds to it), or into a
// C of their own type when only products read it (the Float32 sum rounded once).
int lcr_cublaslt_gemm(lcr_cublaslt *handle, void *stream, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      lcr_cuda_type input_type, lcr_cuda_type output_type, uint64_t a, int64_t lda, uint64_t b,
                      int64_t ldb, float beta, uint64_t c, int64_t ldc, char *err, size_t err_len) {
    if (m == 0 || n == 0) return 0;
    if (input_type != LCR_CUDA_F32 && input_type != LCR_CUDA_BF16 && input_type != LCR_CUDA_F16) {
        if (err && err_len) snprintf(err, err_len, "a training product's inputs must be fp32, bf16 or fp16, not type %d",
                                     (int)input_type);
        return 1;
    }
    if (output_type != LCR_CUDA_F32 && output_type != input_type) {
        if (err && err_len) snprintf(err, err_len, "a training product's output must be fp32 or its inputs' type, not type %d",
                                     (int)output_type);
        return 1;
    }
    cublasLtMatmulDesc_t desc = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t preference = NULL;
    cublasStatus_t s;
    int status = 1;
    int transa = trans_b ? LCR_CUBLAS_OP_T : LCR_CUBLAS_OP_N;   // on cuBLASLt's A = our B
    int transb = trans_a ? LCR_CUBLAS_OP_T : LCR_CUBLAS_OP_N;   // on cuBLASLt's B = our A
    if ((s = lt.desc_create(&desc, LCR_CUBLAS_COMPUTE_32F, LCR_CUDA_F32)) != 0) {
        describe_status(s, "cublasLtMatmulDescCreate", err, err_len);
        goto done;
    }
    lt.desc_set(desc, LCR_CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa);
    lt.desc_set(desc, LCR_CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb);
    if ((s = lt.layout_create(&la, input_type, (uint64_t)(trans_b ? k : n), (uint64_t)(trans_b ? n : k), ldb)) != 0 ||
        (s = lt.layout_create(&lb, input_type, (uint64_t)(trans_a ? m : k), (uint64_t)(trans_a ? k : m), lda)) != 0 ||
        (s = lt.layout_create(&lc, output_type, (uint64_t)n, (uint64_t)m, ldc)) != 0) {
        describe_status(s, "cublasLtMatrixLayoutCreate", err, err_len);
        goto done;
    }
    if ((s = lt.preference_create(&preference)) != 0) {
        describe_status(s, "cublasLtMatmulPreferenceCreate", err, err_len);
        goto done;
    }
    lt.preference_set(preference, LCR_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &handle->workspace_bytes,
                      sizeof handle->workspace_bytes);
    prefer_alignments(preference, alignment_of(b), alignment_of(a), alignment_of(c), alignment_of(c));
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    if ((s = lt.heuristic(handle->handle, desc, la, lb, lc, lc, preference, 1, &result, &found)) != 0 || found == 0) {
        if (s == 0 && err && err_len) snprintf(err, err_len, "cuBLASLt found no algorithm for a [%lld, %lld] x [%lld] product",
                                               (long long)m, (long long)n, (long long)k);
        else describe_status(s, "cublasLtMatmulAlgoGetHeuristic", err, err_len);
        goto done;
    }
    const float alpha = 1.0f;
    pthread_mutex_lock(&handle->lock);   // the workspace is the handle's
    s = lt.matmul(handle->handle, desc, &alpha, (const void *)(uintptr_t)b, la, (const void *)(uintptr_t)a, lb, &beta,
                  (const void *)(uintptr_t)c, lc, (void *)(uintptr_t)c, lc, &result.algo,
                  (void *)(uintptr_t)handle->workspace, handle->workspace_bytes, (CUstream)stream);
    pthread_mutex_unlock(&handle->lock);
    if (s != 0) {
        describe_status(s, "cublasLtMatmul", err, err_len);
        goto done;
    }
    status = 0;
done:
    if (preference) lt.preference_destroy(preference);
    if (lc) lt.layout_destroy(lc);
    if (lb) lt.layout_destroy(lb);
    if (la) lt.layout_destroy(la);
    if (desc) lt.desc_destroy(desc);
    return status;
}
