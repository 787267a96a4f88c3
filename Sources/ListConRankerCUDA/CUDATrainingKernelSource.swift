/// The CUDA C kernels of GPU training (issue 30), compiled by NVRTC like ``CUDAKernelSource``: the
/// forward kernels that keep what the backward needs and the backward of every layer that is not a
/// matrix product (products go through cuBLASLt), each the GPU twin of a CPU op of
/// `ListConRankerTraining` (named beside each kernel), so that the GPU trainer's gradients can be
/// checked against the CPU trainer's, which are checked against PyTorch autograd.
///
/// Everything is Float32 (the master weights, their gradients, AdamW's moments); the bf16 copies
/// that products read in bf16 mode are made by `bf16_from_float_rows` (`+Products.swift`). Sums that the CPU does in
/// Double (LayerNorm statistics, the gradient norm) are Double here too; the AdamW step uses
/// explicitly rounded operations (`__fmul_rn`, `__fadd_rn`, …), which the compiler never fuses, so
/// it computes what the CPU's `lcr_adamw_update` (compiled with contraction off) computes.
///
/// Dropout masks come from Philox-4×32-10 (Salmon et al., SC 2011), a counter-based generator: the
/// mask of element `i` of dropout site `stream` under seed `seed` is a pure function of the three,
/// so recomputation redraws a mask instead of storing it, and no generator state crosses kernels.
public enum CUDATrainingKernelSource {
    /// Every kernel the module exports.
    public static let kernelNames = productKernelNames + attentionKernelNames + attentionBF16KernelNames
        + lossKernelNames + [
        "philox_uniform", "dropout_mask", "dropout_keep", "multiply_by_dropout_mask",
        "dropout_mask_product", "dropout_mask_product_bf16",
        "layer_norm_forward_train", "layer_norm_backward", "layer_norm_backward_wide",
        "gelu_forward_train", "gelu_forward_train_bf16", "gelu_backward", "gelu_forward_backward",
        "relu_forward_rows", "relu_backward_rows",
        "elementwise_copy", "elementwise_add", "elementwise_multiply", "elementwise_scale",
        "column_chunk_sums", "column_chunk_sums_bf16", "add_chunk_sums", "segment_row_sums", "gather_rows", "scatter_add_rows", "add_broadcast_rows",
        "add_row_tags", "row_tag_gradients", "add_bias_rows", "add_bias_rows_bf16",
        "elementwise_zero", "embed_tokens", "table_rows_backward", "mean_pool", "mean_pool_backward",
        "adamw_update", "squared_sum_blocks", "accumulate_in_double", "round_from_double",
    ]

    /// The CUDA C source.
    public static let source = CUDAKernelSource.blockReductions + productSource + attentionSource + attentionBF16Source
        + lossSource + #"""
// ---- Philox-4x32-10 and dropout masks -------------------------------------------------------------
struct philox4 { unsigned x, y, z, w; };
__device__ __forceinline__ unsigned mul_hi_u32(unsigned a, unsigned b) {
    return (unsigned)(((unsigned long long)a * b) >> 32);
}
// Ten rounds on counter (c) under key (k), the constants of Random123's philox4x32.
__device__ philox4 philox4x32_10(philox4 c, unsigned k0, unsigned k1) {
    for (int round = 0; round < 10; round++) {
        unsigned hi0 = mul_hi_u32(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        unsigned hi1 = mul_hi_u32(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        philox4 n = {hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
        c = n;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}
// Block q of stream `stream` under `seed`: counter (q, stream), whose four words are elements 4q … 4q + 3.
__device__ __forceinline__ philox4 philox_block(unsigned long long seed, unsigned long long stream,
                                                unsigned long long q) {
    philox4 counter = {(unsigned)q, (unsigned)(q >> 32), (unsigned)stream, (unsigned)(stream >> 32)};
    return philox4x32_10(counter, (unsigned)seed, (unsigned)(seed >> 32));
}
__device__ __forceinline__ unsigned philox_word(philox4 r, int k) {
    return k == 0 ? r.x : k == 1 ? r.y : k == 2 ? r.z : r.w;
}
// A word's uniform in [0, 1): its top 24 bits (every float of the form k·2⁻²⁴ equally likely).
__device__ __forceinline__ float philox_word_unit(unsigned word) { return (float)(word >> 8) * 5.9604644775390625e-8f; }
// The uniform of element i of stream `stream` under `seed`: word i % 4 of block i / 4.
__device__ float philox_unit(unsigned long long seed, unsigned long long stream, unsigned long long i) {
    return philox_word_unit(philox_word(philox_block(seed, stream, i >> 2), (int)(i & 3)));
}
// out[i] = the uniform of element first + i: for known-answer checks of the generator.
extern "C" __global__ void philox_uniform(unsigned long long seed, unsigned long long stream,
                                          unsigned long long first, long count, float *out) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        out[i] = philox_unit(seed, stream, first + i);
}
// The masks below take a block a thread, its four elements from one Philox call: a call is ~45 IMAD and ~22
// LOP3 on sm_90 (tools/bench/kernel_sass.py), a quarter of that an element instead of all of it. Launched over
// (count + 3) / 4 threads.
// Philox.dropoutMask: mask[i] = 1/(1 − p) where the uniform ≥ p, else 0.
extern "C" __global__ void dropout_mask(unsigned long long seed, unsigned long long stream, long count, float p,
                                        float *mask) {
    float scale = 1.0f / (1.0f - p);
    for (long q = blockIdx.x * (long)blockDim.x + threadIdx.x; 4 * q < count; q += (long)gridDim.x * blockDim.x) {
        philox4 r = philox_block(seed, stream, q);
#pragma unroll
        for (int k = 0; k < 4; k++)
            if (4 * q + k < count) mask[4 * q + k] = philox_word_unit(philox_word(r, k)) >= p ? scale : 0.0f;
    }
}
// The same mask as bytes (DropoutMask): keep[i] = 1 where the uniform ≥ p, else 0; a block's four bytes in
// one store where they are whole and aligned.
extern "C" __global__ void dropout_keep(unsigned long long seed, unsigned long long stream, long count, float p,
                                        unsigned char *keep) {
    for (long q = blockIdx.x * (long)blockDim.x + threadIdx.x; 4 * q < count; q += (long)gridDim.x * blockDim.x) {
        philox4 r = philox_block(seed, stream, q);
        unsigned bytes = 0;
#pragma unroll
        for (int k = 0; k < 4; k++) bytes |= (philox_word_unit(philox_word(r, k)) >= p ? 1u : 0u) << (8 * k);
        unsigned char *out = keep + 4 * q;
        if (4 * q + 4 <= count && ((unsigned long long)out & 3) == 0) {
            *(unsigned *)out = bytes;
        } else {
            for (int k = 0; k < 4 && 4 * q + k < count; k++) out[k] = (unsigned char)(bytes >> (8 * k));
        }
    }
}

// ---- LayerNorm (LayerNormOps) -------------------------------------------------------------------------
// One block per row: y = (x − mean)·rstd·γ + β, keeping mean and rstd; statistics in Double, two passes.
// With y16, y's bf16 rounding too (an activation's copy for the products). With a residual, x is first a
// dropout branch joining it: x = x ⊙ mask + residual (bytes, DropoutMask; none: x + residual), rounded after
// the product and after the sum as the CPU's multiply and add, and stored back to x (the backward reads the
// sum): the join and the LayerNorm after it read the sum once. A thread's later passes read only the
// elements it wrote.
extern "C" __global__ void layer_norm_forward_train(float *x, const float *residual, const unsigned char *keep,
                                                    float scale, const float *gamma, const float *beta,
                                                    float eps, int width, float *y, float *mean, float *rstd,
                                                    unsigned short *y16) {
    __shared__ double scratch[32];
    long r = blockIdx.x;
    float *row = x + r * width;
    DropoutMask mask(keep, scale);
    double sum = 0.0;
    for (int j = threadIdx.x; j < width; j += blockDim.x) {
        float value = row[j];
        if (residual) {
            long i = r * width + j;
            value = __fadd_rn(mask ? __fmul_rn(value, mask[i]) : value, residual[i]);
            row[j] = value;
        }
        sum += (double)value;
    }
    double m = block_sum(sum, scratch) / width;
    double squares = 0.0;
    for (int j = threadIdx.x; j < width; j += blockDim.x) { double d = (double)row[j] - m; squares += d * d; }
    double s = 1.0 / sqrt(block_sum(squares, scratch) / width + (double)eps);
    if (threadIdx.x == 0) { mean[r] = (float)m; rstd[r] = (float)s; }
    for (int j = threadIdx.x; j < width; j += blockDim.x) {
        float value = (float)(((double)row[j] - m) * s) * gamma[j] + beta[j];
        y[r * width + j] = value;
        if (y16) y16[r * width + j] = bf16_bits(value);
    }
}
// LayerNorm's backward in one pass over dy and x (as llm.c's layernorm_backward): one block per chunk of
// `chunk` rows, taken in order. For each row, the input gradient dx += rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)),
// dx̂ = dy·γ (replace: dx =); and each column's dγ = Σ dy·x̂ and dβ = Σ dy over the chunk's rows, in row order,
// into dgamma_chunks and dbeta_chunks[chunk, width]: pass 1 of the two-pass column sums, whose pass 2
// (add_chunk_sums) adds the chunks to dγ and dβ. Thread t owns columns t + k·blockDim (k < COLUMNS), so
// its partial sums stay in registers; the row's second read of dy and x finds them in the cache. Widths up to
// COLUMNS·blockDim (the caller picks blockDim): 4 columns a thread up to 4,096, 16 beyond (more registers).
// With a mask (bytes, DropoutMask) also branch = dx ⊙ mask, Float32 or bf16 (branch_bf16), as
// dropout_mask_product would write it after: the gradient of the dropout branch that joined the residual
// sum this LayerNorm normalised, without reading dx again.
template <int COLUMNS>
__device__ void layer_norm_backward_rows(const float *dy, const float *x, const float *mean, const float *rstd,
                                         const float *gamma, int rows, int width, int chunk, int replace, float *dx,
                                         float *dgamma_chunks, float *dbeta_chunks, DropoutMask mask, void *branch,
                                         int branch_bf16) {
    __shared__ float scratch[32];
    int c = blockIdx.x;
    int end = (c + 1) * chunk < rows ? (c + 1) * chunk : rows;
    float g[COLUMNS], b[COLUMNS];
#pragma unroll
    for (int k = 0; k < COLUMNS; k++) { g[k] = 0.0f; b[k] = 0.0f; }
    for (long r = (long)c * chunk; r < end; r++) {
        const float *row = x + r * width, *grad = dy + r * width;
        float m = mean[r], s = rstd[r];
        float a = 0.0f, ab = 0.0f;
        for (int j = threadIdx.x; j < width; j += blockDim.x) {
            float xhat = (row[j] - m) * s, dxhat = grad[j] * gamma[j];
            a += dxhat;
            ab += dxhat * xhat;
        }
        float mean_dxhat = block_sum(a, scratch) / width;
        float mean_dxhat_xhat = block_sum(ab, scratch) / width;
#pragma unroll
        for (int k = 0; k < COLUMNS; k++) {
            int j = threadIdx.x + k * blockDim.x;
            if (j >= width) break;
            float d = grad[j], xhat = (row[j] - m) * s;
            float input = s * (d * gamma[j] - mean_dxhat - xhat * mean_dxhat_xhat);
            long i = r * width + j;
            float value = replace ? input : dx[i] + input;
            dx[i] = value;
            if (mask) {
                if (branch_bf16) store_as((unsigned short *)branch + i, value * mask[i]);
                else store_as((float *)branch + i, value * mask[i]);
            }
            g[k] += d * xhat;
            b[k] += d;
        }
    }
#pragma unroll
    for (int k = 0; k < COLUMNS; k++) {
        int j = threadIdx.x + k * blockDim.x;
        if (j >= width) break;
        dgamma_chunks[(long)c * width + j] = g[k];
        dbeta_chunks[(long)c * width + j] = b[k];
    }
}
// Blocks of up to 1024 threads (CUDAKernelSource.largerBlocks): the bounds hold both to 64 registers.
extern "C" __global__ void __launch_bounds__(1024)
layer_norm_backward(const float *dy, const float *x, const float *mean, const float *rstd, const float *gamma, int rows,
                    int width, int chunk, int replace, float *dx, float *dgamma_chunks, float *dbeta_chunks,
                    const unsigned char *keep, float scale, void *branch, int branch_bf16) {
    layer_norm_backward_rows<4>(dy, x, mean, rstd, gamma, rows, width, chunk, replace, dx, dgamma_chunks, dbeta_chunks,
                                DropoutMask(keep, scale), branch, branch_bf16);
}
extern "C" __global__ void __launch_bounds__(1024)
layer_norm_backward_wide(const float *dy, const float *x, const float *mean, const float *rstd, const float *gamma,
                         int rows, int width, int chunk, int replace, float *dx, float *dgamma_chunks,
                         float *dbeta_chunks, const unsigned char *keep, float scale, void *branch, int branch_bf16) {
    layer_norm_backward_rows<16>(dy, x, mean, rstd, gamma, rows, width, chunk, replace, dx, dgamma_chunks, dbeta_chunks,
                                 DropoutMask(keep, scale), branch, branch_bf16);
}

// ---- Activations (ActivationOps) ----------------------------------------------------------------------
__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
// With y16, y's bf16 rounding too (an activation's copy for the products).
template <class Out> __device__ void gelu_forward_into(const float *x, long count, Out *y, unsigned short *y16) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x) {
        float value = gelu_erf(x[i]);
        store_as(y + i, value);
        if (y16) y16[i] = bf16_bits(value);
    }
}
extern "C" __global__ void gelu_forward_train(const float *x, long count, float *y, unsigned short *y16) {
    gelu_forward_into(x, count, y, y16);
}
// The same, stored in bf16 for an output only bf16 products read: what rounding a Float32 output gives.
extern "C" __global__ void gelu_forward_train_bf16(const float *x, long count, unsigned short *y) {
    gelu_forward_into(x, count, y, (unsigned short *)0);
}
// GELU′(x) = Φ(x) + x·φ(x).
__device__ __forceinline__ float gelu_erf_slope(float v) {
    float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
    float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
    return cdf + v * pdf;
}
// dx = dy·GELU′(x), overwritten. dy Float32, or bf16 (the gradient a bf16 product wrote: the output
// layer's dX in bf16 mode, as autocast's is); dx Float32, or bf16 for a gradient only bf16 products read
// (and the bias's column sums).
template <class DY, class Out> __device__ void gelu_backward_into(const DY *dy, const float *x, long count, Out *dx) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        store_as(dx + i, element_value(dy, i) * gelu_erf_slope(x[i]));
}
template <class DY> __device__ void gelu_backward_to(const DY *dy, const float *x, long count, void *dx, int dx_bf16) {
    if (dx_bf16) gelu_backward_into(dy, x, count, (unsigned short *)dx);
    else gelu_backward_into(dy, x, count, (float *)dx);
}
extern "C" __global__ void gelu_backward(const void *dy, int dy_bf16, const float *x, long count, void *dx, int dx_bf16) {
    if (dy_bf16) gelu_backward_to((const unsigned short *)dy, x, count, dx, dx_bf16);
    else gelu_backward_to((const float *)dy, x, count, dx, dx_bf16);
}
// Both in one pass over x (a backward that re-runs GELU: its output for the next layer's weight gradient,
// and its input gradient): y = GELU(x), dx = dy·GELU′(x), each stored as the kernels above store it; and
// pass 1 of the bias gradient's column sums over dx as stored (column_chunk_sums' sums, in its order), so
// that dx is not read again for them. x, dy, y, dx [rows, width]; grid (column blocks, chunks) as
// column_chunk_sums: each thread walks its chunk's rows of one column (a warp's loads stay coalesced).
template <class DY, class Y, class DX>
__device__ void gelu_forward_backward_into(const DY *dy, const float *x, int rows, int width, int chunk, Y *y,
                                           DX *dx, float *chunks) {
    int c = blockIdx.y, j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= width) return;
    int end = (c + 1) * chunk < rows ? (c + 1) * chunk : rows;
    float sum = 0.0f;
    for (int r = c * chunk; r < end; r++) {
        long i = (long)r * width + j;
        float v = x[i];
        store_as(y + i, gelu_erf(v));
        store_as(dx + i, element_value(dy, i) * gelu_erf_slope(v));
        sum += element_value(dx, i);   // as stored: a bf16 dx's rounded value
    }
    chunks[(long)c * width + j] = sum;
}
// dy, y and dx each Float32, or bf16 (dy_bf16: the output layer's dX a bf16 product wrote; y_bf16,
// dx_bf16: product operands).
template <class DY>
__device__ void gelu_forward_backward_to(const DY *dy, const float *x, int rows, int width, int chunk, void *y,
                                         int y_bf16, void *dx, int dx_bf16, float *chunks) {
    if (y_bf16 && dx_bf16)
        gelu_forward_backward_into(dy, x, rows, width, chunk, (unsigned short *)y, (unsigned short *)dx, chunks);
    else if (y_bf16) gelu_forward_backward_into(dy, x, rows, width, chunk, (unsigned short *)y, (float *)dx, chunks);
    else if (dx_bf16) gelu_forward_backward_into(dy, x, rows, width, chunk, (float *)y, (unsigned short *)dx, chunks);
    else gelu_forward_backward_into(dy, x, rows, width, chunk, (float *)y, (float *)dx, chunks);
}
extern "C" __global__ void gelu_forward_backward(const void *dy, int dy_bf16, const float *x, int rows, int width,
                                                 int chunk, void *y, int y_bf16, void *dx, int dx_bf16, float *chunks) {
    if (dy_bf16)
        gelu_forward_backward_to((const unsigned short *)dy, x, rows, width, chunk, y, y_bf16, dx, dx_bf16, chunks);
    else gelu_forward_backward_to((const float *)dy, x, rows, width, chunk, y, y_bf16, dx, dx_bf16, chunks);
}
// y[r, j] = max(x[r, j], 0) for rows of their own strides (the score head writes halves of [P, 2W] rows).
extern "C" __global__ void relu_forward_rows(const float *x, long x_stride, long rows, int width, float *y,
                                             long y_stride) {
    for (long e = blockIdx.x * (long)blockDim.x + threadIdx.x; e < rows * width; e += (long)gridDim.x * blockDim.x) {
        long r = e / width, j = e % width;
        float v = x[r * x_stride + j];
        y[r * y_stride + j] = v > 0.0f ? v : 0.0f;
    }
}
// dx[r, j] += dy[r, j] where x[r, j] > 0 (no gradient at 0, as PyTorch).
extern "C" __global__ void relu_backward_rows(const float *dy, long dy_stride, const float *x, long x_stride,
                                              long rows, int width, float *dx, long dx_stride) {
    for (long e = blockIdx.x * (long)blockDim.x + threadIdx.x; e < rows * width; e += (long)gridDim.x * blockDim.x) {
        long r = e / width, j = e % width;
        if (x[r * x_stride + j] > 0.0f) dx[r * dx_stride + j] += dy[r * dy_stride + j];
    }
}

// ---- Element-wise (ElementOps) --------------------------------------------------------------------------
extern "C" __global__ void elementwise_copy(float *target, const float *source, long count) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        target[i] = source[i];
}
extern "C" __global__ void elementwise_add(float *x, const float *y, long count) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        x[i] += y[i];
}
extern "C" __global__ void elementwise_multiply(float *x, const float *y, long count) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        x[i] *= y[i];
}
// x ⊙= a byte dropout mask's values: the product with the Float32 mask, to the bit. With x16, x's bf16
// rounding too (an activation's copy for the products).
extern "C" __global__ void multiply_by_dropout_mask(float *x, const unsigned char *keep, float scale, long count,
                                                    unsigned short *x16) {
    DropoutMask mask(keep, scale);
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x) {
        float value = x[i] * mask[i];
        x[i] = value;
        if (x16) x16[i] = bf16_bits(value);
    }
}
// z = x ⊙ a byte dropout mask's values (the products of multiply_by_dropout_mask, x left as it is), in
// Float32 or, for a gradient only bf16 products read, bf16.
template <class Out> __device__ void dropout_mask_product_into(const float *x, DropoutMask mask, long count, Out *z) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        store_as(z + i, x[i] * mask[i]);
}
extern "C" __global__ void dropout_mask_product(const float *x, const unsigned char *keep, float scale, long count,
                                                float *z) {
    dropout_mask_product_into(x, DropoutMask(keep, scale), count, z);
}
extern "C" __global__ void dropout_mask_product_bf16(const float *x, const unsigned char *keep, float scale, long count,
                                                     unsigned short *z) {
    dropout_mask_product_into(x, DropoutMask(keep, scale), count, z);
}
extern "C" __global__ void elementwise_scale(float *x, float factor, long count) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        x[i] *= factor;
}

// ---- Rows: bias gradients, the score head's pairs (ScorePairs) -------------------------------------------
// y[r, j] = x[r, j] + bias[j]: a linear layer's bias that the product's epilogue could not take (one under
// its 16-byte alignment), added to the product's Float32 result x and rounded once to y's type, as the
// epilogue rounds its Float32 sum; x may be y.
template <class Out> __device__ void add_bias_rows_into(const float *x, const float *bias, long rows, int width, Out *y) {
    for (long e = blockIdx.x * (long)blockDim.x + threadIdx.x; e < rows * width; e += (long)gridDim.x * blockDim.x)
        store_as(y + e, x[e] + bias[e % width]);
}
extern "C" __global__ void add_bias_rows(float *y, const float *bias, long rows, int width) {
    add_bias_rows_into(y, bias, rows, width, y);
}
extern "C" __global__ void add_bias_rows_bf16(const float *x, const float *bias, long rows, int width, unsigned short *y) {
    add_bias_rows_into(x, bias, rows, width, y);
}
// out[r] = x[r] + tags[tag_of_row[r]]: the list head's query tag (1 on each list's first row, else 0).
extern "C" __global__ void add_row_tags(const float *x, const float *tags, const int *tag_of_row, int width,
                                        float *out) {
    long r = blockIdx.x;
    for (int j = threadIdx.x; j < width; j += blockDim.x)
        out[r * width + j] = x[r * width + j] + tags[(long)tag_of_row[r] * width + j];
}
// dtags[tag_of_row[r], j] += dout[r, j]: one thread per column, rows in order (as the CPU sums them).
extern "C" __global__ void row_tag_gradients(const float *dout, const int *tag_of_row, int rows, int width,
                                             float *dtags) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= width) return;
    for (int r = 0; r < rows; r++) dtags[(long)tag_of_row[r] * width + j] += dout[(long)r * width + j];
}
// Column sums over many rows (a bias's gradient over every token of a batch) in two passes, so that
// they spread over the GPU instead of one thread per column walking every row: pass 1 sums each
// chunk of `chunk` rows (rows in order within it; grid (column blocks, chunks)), pass 2 adds the
// chunks' sums to out in order. The chunk depends only on the row count, so a run's sums are the
// same on every card and every run (the CPU adds the rows one by one: the same sum, rounded in
// another order).
template <class Element>
__device__ void column_chunk_sums_of(const Element *x, int rows, int width, int chunk, float *chunks) {
    int c = blockIdx.y, j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= width) return;
    int end = (c + 1) * chunk < rows ? (c + 1) * chunk : rows;
    float sum = 0.0f;
    for (int r = c * chunk; r < end; r++) sum += element_value(x, (long)r * width + j);
    chunks[(long)c * width + j] = sum;
}
extern "C" __global__ void column_chunk_sums(const float *x, int rows, int width, int chunk, float *chunks) {
    column_chunk_sums_of(x, rows, width, chunk, chunks);
}
// The same over a bf16 matrix (a gradient stored for bf16 products), summed in Float32.
extern "C" __global__ void column_chunk_sums_bf16(const unsigned short *x, int rows, int width, int chunk,
                                                  float *chunks) {
    column_chunk_sums_of(x, rows, width, chunk, chunks);
}
extern "C" __global__ void add_chunk_sums(const float *chunks, int count, int width, float *out) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= width) return;
    float sum = out[j];
    for (int c = 0; c < count; c++) sum += chunks[(long)c * width + j];
    out[j] = sum;
}
// out[s, j] = Σ of rows starts[s] .. starts[s] + lengths[s] of x (in order). Grid: (column blocks, segments).
extern "C" __global__ void segment_row_sums(const float *x, const int *starts, const int *lengths, int width,
                                            float *out) {
    int s = blockIdx.y, j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= width) return;
    float sum = 0.0f;
    for (int r = 0; r < lengths[s]; r++) sum += x[((long)starts[s] + r) * width + j];
    out[(long)s * width + j] = sum;
}
// out[i] = x[rows[i]]; one block per output row.
extern "C" __global__ void gather_rows(const float *x, const int *rows, int width, float *out) {
    long i = blockIdx.x;
    for (int j = threadIdx.x; j < width; j += blockDim.x) out[i * width + j] = x[(long)rows[i] * width + j];
}
// out[rows[i]] += x[i]; rows distinct (no two blocks write one row). One block per input row.
extern "C" __global__ void scatter_add_rows(const float *x, const int *rows, int width, float *out) {
    long i = blockIdx.x;
    for (int j = threadIdx.x; j < width; j += blockDim.x) out[(long)rows[i] * width + j] += x[i * width + j];
}
// y[i] += (source[rows[i]] + bias) in ScorePairs' order (the query's product, then the bias).
extern "C" __global__ void add_broadcast_rows(float *y, const float *source, const int *rows, const float *bias,
                                              int width) {
    long i = blockIdx.x;
    for (int j = threadIdx.x; j < width; j += blockDim.x)
        y[i * width + j] += source[(long)rows[i] * width + j] + bias[j];
}

// ---- The encoder's embeddings and pooling (EncoderTokenOps) -------------------------------------------
// x[0 ..< count] = 0.
extern "C" __global__ void elementwise_zero(float *x, long count) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x) x[i] = 0.0f;
}
// One block per token row: sums[r] = (words[ids[r]] + token_type) + positions[position[r]], in that order.
extern "C" __global__ void embed_tokens(const float *words, const float *token_type, const float *positions,
                                        const int *ids, const int *position, int width, float *sums) {
    long r = blockIdx.x;
    const float *word = words + (long)ids[r] * width, *place = positions + (long)position[r] * width;
    for (int j = threadIdx.x; j < width; j += blockDim.x)
        sums[r * width + j] = __fadd_rn(__fadd_rn(word[j], token_type[j]), place[j]);
}
// A table's rows' gradients (the word or the position embeddings): grid (keys, column blocks); key u
// is table row keys[u], used by the tokens rows[offsets[u] ..< offsets[u + 1]] (in token order), so
// each row adds its tokens' gradients in the order the CPU adds them, and rows run in parallel.
extern "C" __global__ void table_rows_backward(const float *dsums, const int *keys, const int *offsets,
                                               const int *rows, int width, float *table) {
    int u = blockIdx.x, j = blockIdx.y * blockDim.x + threadIdx.x;
    if (j >= width) return;
    float *target = table + (long)keys[u] * width + j;
    float sum = *target;
    for (int k = offsets[u]; k < offsets[u + 1]; k++) sum += dsums[(long)rows[k] * width + j];
    *target = sum;
}
// Grid (columns / block, segments): pooled[s, j] = the mean of segment s's rows in column j, summed in Double.
extern "C" __global__ void mean_pool(const float *hidden, const int *starts, const int *lengths, int width,
                                     float *pooled) {
    int j = blockIdx.x * blockDim.x + threadIdx.x, s = blockIdx.y;
    if (j >= width) return;
    long first = starts[s];
    int length = lengths[s];
    double sum = 0.0;
    for (int i = 0; i < length; i++) sum += (double)hidden[(first + i) * width + j];
    pooled[(long)s * width + j] = (float)(sum / (double)length);
}
// One block per segment: each of its rows gets dpooled[s] / L (overwritten).
extern "C" __global__ void mean_pool_backward(const float *dpooled, const int *starts, const int *lengths, int width,
                                              float *dhidden) {
    int s = blockIdx.x, length = lengths[s];
    long first = starts[s];
    float inverse = 1.0f / (float)length;
    for (long e = threadIdx.x; e < (long)length * width; e += blockDim.x)
        dhidden[(first + e / width) * width + e % width] = __fmul_rn(dpooled[(long)s * width + e % width], inverse);
}

// ---- Optimizer (AdamW, GradientClipping) --------------------------------------------------------------------
// lcr_adamw_update, operation for operation, each rounded on its own (no fused multiply-add), over a
// whole flat buffer in one launch: element i decays (its parameter scaled by `decay` first) when it
// lies in one of the `range_count` ranges `[decaying[2k], decaying[2k + 1])` (sorted, disjoint),
// found by binary search; the other elements keep their parameter as it is (the CPU's factor 1).
extern "C" __global__ void adamw_update(float *parameters, float *first, float *second, const float *gradients,
                                        long count, const long long *decaying, int range_count, float decay,
                                        float beta1_complement, float beta2, float beta2_complement,
                                        float step_size, float correction2_root, float epsilon,
                                        unsigned short *copy) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x) {
        int low = 0, high = range_count;                    // the first range starting after i is `low`
        while (low < high) {
            int middle = (low + high) / 2;
            if (decaying[2 * middle] <= i) low = middle + 1; else high = middle;
        }
        bool decays = low > 0 && i < decaying[2 * (low - 1) + 1];
        float g = gradients[i];
        float p = decays ? __fmul_rn(parameters[i], decay) : parameters[i];
        float m = __fadd_rn(first[i], __fmul_rn(__fsub_rn(g, first[i]), beta1_complement));
        float v = __fadd_rn(__fmul_rn(second[i], beta2), __fmul_rn(__fmul_rn(beta2_complement, g), g));
        float denominator = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), correction2_root), epsilon);
        float updated = __fsub_rn(p, __fdiv_rn(__fmul_rn(step_size, m), denominator));
        parameters[i] = updated;
        if (copy) copy[i] = bf16_bits(updated);   // the parameters' bf16 copy, which bf16 products read
        first[i] = m;
        second[i] = v;
    }
}
// GradientSum on the device: a micro-batch's gradients added to the step's sums in Double (the step's
// first, replace: stored in place of whatever the sums held), and zeroed for the next micro-batch; then
// the sums rounded once to Float32.
extern "C" __global__ void accumulate_in_double(double *sums, float *values, long count, int replace) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x) {
        sums[i] = replace ? (double)values[i] : sums[i] + (double)values[i];
        values[i] = 0.0f;
    }
}
// values = (float)sums, or with add_values (float)(sums + values): the last micro-batch summed as it is rounded.
extern "C" __global__ void round_from_double(float *values, const double *sums, long count, int add_values) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        values[i] = (float)(add_values ? sums[i] + (double)values[i] : sums[i]);
}
// sums[b] = Σ g² (in Double) over elements b·block ..< min(count, (b + 1)·block): one block per b.
extern "C" __global__ void squared_sum_blocks(const float *values, long count, long block, double *sums) {
    __shared__ double scratch[32];
    long begin = blockIdx.x * block, end = begin + block < count ? begin + block : count;
    double sum = 0.0;
    for (long i = begin + threadIdx.x; i < end; i += blockDim.x) sum += (double)values[i] * (double)values[i];
    sum = block_sum(sum, scratch);
    if (threadIdx.x == 0) sums[blockIdx.x] = sum;
}
"""#
}
