// Compute kernels for ListConRanker: oneDNN-backed matrix products and the few
// elementwise kernels a transformer needs. No model knowledge lives here.
#ifndef LISTCONRANKER_CKERNELS_H
#define LISTCONRANKER_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- Matrix products (oneDNN) -------------------------------------------------

/// Precision of a matrix product's inputs; output is always fp32 (or bf16 bits, see below).
/// LCR_INT8: weights quantised once per output channel, activations per row at each run, both
/// symmetric int8, int32 accumulation, then rescaled to fp32 (bias and GELU after that).
typedef enum { LCR_F32 = 0, LCR_BF16 = 1, LCR_INT8 = 2 } lcr_precision;

/// A prepared product y[M,N] = x[M,K] · Wᵀ (+ bias) (then optional GELU), W given in
/// PyTorch's [N,K] layout. Weights are reordered once into oneDNN's preferred layout;
/// M is a run-time dimension. Not thread-safe: one caller at a time.
typedef struct lcr_linear lcr_linear;

/// Creates a prepared product. `bias` may be NULL. With `bf16_output` (bf16 precision only)
/// the product writes bfloat16 bits instead of floats, for a next product to take as is.
/// Returns 0, or non-zero with a message in `err`.
int lcr_linear_create(lcr_linear **out, const float *weight, const float *bias,
                      int64_t n, int64_t k, lcr_precision precision, int fuse_gelu,
                      int bf16_output, char *err, size_t err_len);
/// y[rows,N] = x[rows,K] · Wᵀ + bias. `x` holds floats, or bfloat16 bits when `x_is_bf16`
/// (bf16 precision only); `y` holds floats, or bfloat16 bits for a `bf16_output` product.
/// Returns 0, or non-zero with a message in `err`.
int lcr_linear_run(lcr_linear *linear, const void *x, int x_is_bf16, int64_t rows, void *y,
                   char *err, size_t err_len);
/// The name of the oneDNN implementation that runs this product for `rows` rows (such as
/// "brg:avx512_core_amx_bf16" or "gemm:jit") into `name`. Returns 0, or non-zero with a message in `err`.
int lcr_linear_implementation(lcr_linear *linear, int64_t rows, char *name, size_t name_len,
                              char *err, size_t err_len);
void lcr_linear_destroy(lcr_linear *linear);

/// Whether oneDNN has a non-reference int8 matrix-product kernel on this CPU (it probes one
/// small product). Without one, an int8 product would run oneDNN's reference loops.
int lcr_cpu_runs_int8_products(void);
/// The largest quantised activation (u8) on this CPU: 255 with VNNI, 127 without (where oneDNN's
/// int8 multiply would saturate 16-bit sums of full-range activations).
int lcr_int8_activation_levels(void);
/// GELU (erf form) of one value as an int8 product's output computes it (Abramowitz–Stegun
/// 7.1.26 erf, |error| ≤ 1.5e-7, the approximation oneDNN's gelu_erf uses); for tests.
float lcr_int8_path_gelu(float x);

/// Row-major C[M,N] = alpha · op(A) · op(B) + beta · C through oneDNN's sgemm
/// (op = transpose when trans is 'T'). Returns 0 on success.
int lcr_sgemm(char trans_a, char trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
              float *c, int64_t ldc);

/// Whether this CPU runs bf16 matrix products natively (AVX512-BF16 or AMX).
int lcr_cpu_has_native_bf16(void);
/// Whether oneDNN runs bf16 matrix products on this CPU at all (AVX-512 or better; natively
/// or emulated). On AVX2-only CPUs it has no bf16 matmul kernel.
int lcr_cpu_runs_bf16_products(void);

// ---- Elementwise kernels ------------------------------------------------------

/// Training: y[i] = GELU(x[i]) (erf form) on oneDNN's eltwise primitive. Returns 0, or non-zero
/// with a message in `err`.
int lcr_gelu_erf_forward(float *y, const float *x, int64_t count, char *err, size_t err_len);
/// Training: dx[i] = dy[i] · GELU'(x[i]) (dx is overwritten; it may not alias dy or x). Returns
/// 0, or non-zero with a message in `err`.
int lcr_gelu_erf_backward(float *dx, const float *dy, const float *x, int64_t count, char *err, size_t err_len);
/// x[i] = max(x[i], 0).
void lcr_relu(float *x, int64_t count);
/// x[i] = 1 / (1 + exp(-x[i])).
void lcr_sigmoid(float *x, int64_t count);
/// x[r,:] = LayerNorm(x[r,:] + residual[r,:]) · gamma + beta; residual may be NULL. With
/// `bf16_out` (else NULL) the result is also written there as bfloat16 bits (round to nearest
/// even), for a next bf16 product to read without a conversion pass.
void lcr_layer_norm(float *x, const float *residual, const float *gamma, const float *beta,
                    int64_t rows, int64_t cols, float eps, uint16_t *bf16_out);
/// out[c] = mean over rows r with mask[r] != 0 of x[r, c]; returns the number of rows used.
int64_t lcr_masked_mean_rows(const float *x, const uint8_t *mask, int64_t rows, int64_t cols,
                             float *out);

// ---- Attention ------------------------------------------------------------------


/// Full (unmasked) multi-head self-attention for a group of `count` sequences, batched over
/// texts × heads on oneDNN primitives. `qkv` is [rows, 3·width] (each row's query, key and value
/// side by side); sequence g is rows starts[g] ..< starts[g] + lengths[g]. Its context goes to the
/// same rows of `out`, [rows, width] with row stride `ldo`. Every sequence is padded to
/// `padded_length` (at least the longest) inside the call and attends only to its own keys.
/// With `bf16`, `qkv` and `out` hold bfloat16 bits and the products run in bf16 (scores and
/// softmax stay f32). Returns 0, or non-zero with a message.
int lcr_attention_group(const void *qkv, int bf16, int64_t width, int64_t heads, const int64_t *starts,
                        const int64_t *lengths, int64_t count, int64_t padded_length, void *out, int64_t ldo,
                        char *err, size_t err_len);

// ---- Loops over the cores ----------------------------------------------------------

/// Runs body(context, begin, end) over contiguous shares of [0, count), one per thread.
typedef void (*lcr_range_body)(void *context, int64_t begin, int64_t end);
/// Splits [0, count) over the cores on the OpenMP team oneDNN runs on (see parallel.c), giving
/// each thread at least `min_per_thread` items (fewer threads for small loops); returns when
/// every share is done. The shares depend only on `count`, `min_per_thread` and the thread count.
void lcr_parallel_for(int64_t count, int64_t min_per_thread, lcr_range_body body, void *context);

/// Raises the niceness of the calling thread and of the OpenMP team it runs oneDNN's primitives
/// on by `increment` (Linux: per thread). Returns how many threads it changed.
int lcr_lower_compute_priority(int increment);

/// For executables only: serve large allocations from the heap and keep freed memory for
/// reuse, instead of mapping (and page-faulting) every block over 32 MiB afresh.
void lcr_keep_freed_memory_for_reuse(void);

// ---- Training ----------------------------------------------------------------

/// One AdamW step over `count` parameters (torch.optim.AdamW's arithmetic, in its order):
/// `p ← p·decay` (decay = 1 − lr·λ, or 1 for tensors without weight decay),
/// `m ← m + (g − m)·(1 − β₁)`, `v ← v·β₂ + (1 − β₂)·g²`,
/// `p ← p − stepSize·m / (√v / correction2Root + ε)`. The four buffers must not overlap.
void lcr_adamw_update(float *restrict parameters, float *restrict first, float *restrict second,
                      const float *restrict gradients, int64_t count, float decay, float beta1Complement,
                      float beta2, float beta2Complement, float stepSize, float correction2Root, float epsilon);

/// `row ← softmax(row · scale)` over `count` elements, the maximum subtracted first: the encoder's
/// training attention. exp is a polynomial (Cephes' expf, within 2 ulp of libm's on x ≤ 0) so the
/// loop vectorises; a sum of 8 lanes.
void lcr_softmax_scaled_row(float *row, int64_t count, float scale);

#ifdef __cplusplus
}
#endif
#endif
