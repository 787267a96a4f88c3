/// The CUDA C kernels of the GPU backend, compiled at run time by NVRTC for the card's
/// architecture (``CUDAKernelCompiler``). They need no CUDA header: 16-bit floats are handled as
/// their bit patterns (bf16) or through PTX conversions (fp16), so NVRTC compiles them on any
/// machine, GPU or not, which is how CI checks them. The same source also builds for the CPU
/// (the PTX behind `#ifdef __CUDA_ARCH__`): the software CUDA device of `tools/cuda-emulator`
/// runs it in the tests.
///
/// Every kernel that takes activations exists once per product precision, with the suffix
/// `_f32`, `_bf16` or `_f16`: the element type `T` of the matrices that matrix products read and
/// write. The residual stream, LayerNorm, softmax and pooling stay Float32.
public enum CUDAKernelSource {
    /// Kernel names without their precision suffix, in the order the backend looks them up.
    public static let typedKernels = ["embed_layer_norm", "layer_norm", "attention", "gelu", "to_float", "from_float"]
    /// Kernels over Float32 only.
    public static let floatKernels = ["add_tags", "mean_pool", "paired_rows", "concat_columns"]
    /// The suffixes of ``typedKernels``.
    public static let suffixes = ["f32", "bf16", "f16"]

    /// Every kernel name the module exports.
    public static var allKernelNames: [String] {
        typedKernels.flatMap { name in suffixes.map { "\(name)_\($0)" } } + floatKernels
    }

    /// Threads a block of most kernels, this module's and the GPU trainer's, may take. At that size
    /// any kernel fits an SM's 65,536 registers (at most 255 a thread, allocated 8 at a time), so
    /// no register count can make a launch fail; kernels that take larger blocks are named in
    /// ``largerBlocks`` and compiled with `__launch_bounds__` for them.
    public static let largestBlock = 256
    /// The kernels whose blocks may be larger than ``largestBlock``, with their limit: the
    /// trainer's LayerNorm backward, a thread per 4 or 16 columns of rows up to 16,384 wide.
    /// Their source declares the same limit as `__launch_bounds__`, which holds the compiler to
    /// 64 registers a thread.
    public static let largerBlocks = ["layer_norm_backward": 1024, "layer_norm_backward_wide": 1024]

    /// The largest block `kernel` may be launched with (``largestBlock`` or its ``largerBlocks`` entry).
    public static func largestBlock(of kernel: String) -> Int {
        largerBlocks[kernel] ?? largestBlock
    }

    /// Longest head width the attention kernel takes (BERT-large's 64, the list head's 112).
    public static let maximumHeadWidth = 128
    /// Query rows and key rows per tile of the attention kernel.
    public static let attentionTile = 32

    /// Block reductions, which both this module and the GPU trainer's (`CUDATrainingKernelSource`)
    /// begin with: warp and block sums of Float32 or Double values.
    public static let blockReductions = #"""
// ---- Block reductions ---------------------------------------------------------------------------
template <typename T> __device__ __forceinline__ T warp_sum(T v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}
// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the total.
// `scratch` holds 32 values of shared memory.
template <typename T> __device__ T block_sum(T v, T *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_sum(lane < warps ? scratch[lane] : T(0));
}

"""#

    /// The CUDA C source.
    public static let source = blockReductions + #"""
// 16-bit floats as distinct 2-byte types, so that overloads pick the conversion.
struct bf16_t { unsigned short bits; };
struct f16_t { unsigned short bits; };

// IEEE half conversions, named as the PTX instructions they are (round to nearest even). Off the
// GPU (the software CUDA device of tools/cuda-emulator, which runs these kernels on the CPU in
// tests) the host compiler's runtime supplies both, with the same rounding.
#ifdef __CUDA_ARCH__
__device__ __forceinline__ float cvt_f32_f16(unsigned short h) {
    float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f;
}
__device__ __forceinline__ unsigned short cvt_rn_f16_f32(float v) {
    unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v)); return h;
}
#endif

// ---- Element conversions (Float32 math throughout) ----------------------------------------------
__device__ __forceinline__ float load_f(const float *p, long i) { return p[i]; }
__device__ __forceinline__ float load_f(const bf16_t *p, long i) { return __uint_as_float(((unsigned)p[i].bits) << 16); }
__device__ __forceinline__ float load_f(const f16_t *p, long i) { return cvt_f32_f16(p[i].bits); }
__device__ __forceinline__ void store_f(float *p, long i, float v) { p[i] = v; }
__device__ __forceinline__ void store_f(bf16_t *p, long i, float v) {
    unsigned u = __float_as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) { p[i].bits = (unsigned short)((u >> 16) | 0x40u); return; }   // NaN stays NaN
    p[i].bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                               // nearest even
}
__device__ __forceinline__ void store_f(f16_t *p, long i, float v) { p[i].bits = cvt_rn_f16_f32(v); }


// LayerNorm of one row held in `row` (shared, `width` floats) into `out` (Float32) and `copy` (T,
// optional): two passes, mean then the mean of squared deviations, as PyTorch computes it.
template <typename T>
__device__ void normalize_row(const float *row, int width, const float *gamma, const float *beta, float eps,
                              float *out, T *copy, float *scratch) {
    float sum = 0.0f;
    for (int j = threadIdx.x; j < width; j += blockDim.x) sum += row[j];
    float mean = block_sum(sum, scratch) / width;
    float squares = 0.0f;
    for (int j = threadIdx.x; j < width; j += blockDim.x) { float d = row[j] - mean; squares += d * d; }
    float inverse = rsqrtf(block_sum(squares, scratch) / width + eps);
    for (int j = threadIdx.x; j < width; j += blockDim.x) {
        float y = (row[j] - mean) * inverse * gamma[j] + beta[j];
        out[j] = y;
        if (copy) store_f(copy, j, y);
    }
}

// ---- Embeddings + LayerNorm: one block per row ----------------------------------------------------
// Row r < tokens: (words[ids[r]] + token_type) + positions[positions_of_row[r]], normalised; rows past
// the tokens (padding) are zero in both outputs. Dynamic shared memory: width floats.
template <typename T>
__device__ void embed_layer_norm(const int *ids, const int *positions_of_row, int tokens, const float *words,
                                 const float *token_type, const float *positions, const float *gamma,
                                 const float *beta, float eps, int width, float *out, T *copy) {
    extern __shared__ float shared[];
    __shared__ float scratch[32];
    long r = blockIdx.x;
    float *o = out + r * width;
    T *c = copy ? copy + r * width : 0;
    if (r >= tokens) {
        for (int j = threadIdx.x; j < width; j += blockDim.x) { o[j] = 0.0f; if (c) store_f(c, j, 0.0f); }
        return;
    }
    const float *w = words + (long)ids[r] * width, *p = positions + (long)positions_of_row[r] * width;
    for (int j = threadIdx.x; j < width; j += blockDim.x) shared[j] = (w[j] + token_type[j]) + p[j];
    __syncthreads();
    normalize_row(shared, width, gamma, beta, eps, o, c, scratch);
}

// ---- Residual + LayerNorm: one block per row --------------------------------------------------------
// out[r] = LayerNorm(x[r] + residual[r]) (residual optional), in Float32, and its T copy (optional).
// `out` may be `x` or `residual`: each row is read into shared memory before it is written.
template <typename T>
__device__ void layer_norm(const float *x, const float *residual, const float *gamma, const float *beta, float eps,
                           int width, float *out, T *copy) {
    extern __shared__ float shared[];
    __shared__ float scratch[32];
    long r = blockIdx.x;
    for (int j = threadIdx.x; j < width; j += blockDim.x)
        shared[j] = x[r * width + j] + (residual ? residual[r * width + j] : 0.0f);
    __syncthreads();
    normalize_row(shared, width, gamma, beta, eps, out + r * width, copy ? copy + r * width : (T *)0, scratch);
}

// ---- GELU (erf form) in place ----------------------------------------------------------------------
template <typename T>
__device__ void gelu(T *x, long count) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x) {
        float v = load_f(x, i);
        store_f(x, i, 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)));
    }
}

template <typename T>
__device__ void to_float(const T *x, long count, float *out) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        out[i] = load_f(x, i);
}

template <typename T>
__device__ void from_float(const float *x, long count, T *out) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x)
        store_f(out, i, x[i]);
}

// ---- Attention over packed sequences -----------------------------------------------------------------
// qkv [rows, 3·width] (each row's q, k, v side by side), context [rows, width]. Segment s covers rows
// starts[s] .. starts[s] + lengths[s]. Grid: (query tiles of the longest segment, heads, segments);
// block: 128 threads, a tile of 32 query rows, four threads per row. Keys go by tiles of 16 through
// shared memory with an online softmax (flash-attention's recurrence), all in Float32. Static shared
// memory stays under the 48 KB a block gets without opting in: 35 KB at heads of 128.
// first_row_alone: a segment's first row attends to itself only (ListAttention's query row).
#define TILE 32
#define KEY_TILE 16
#define MAX_HEAD 128
#define NEG_INF __int_as_float(0xff800000u)
template <typename T>
__device__ void attention(const T *qkv, const int *starts, const int *lengths, int width, int head_width,
                          float scale, int first_row_alone, T *context) {
    __shared__ float q_tile[TILE][MAX_HEAD + 1];
    __shared__ float k_tile[KEY_TILE][MAX_HEAD + 1];
    __shared__ float v_tile[KEY_TILE][MAX_HEAD];
    __shared__ float p_tile[TILE][KEY_TILE + 1];
    int segment = blockIdx.z, head = blockIdx.y;
    int length = lengths[segment];
    int first_query = blockIdx.x * TILE;
    if (first_query >= length) return;
    long start = starts[segment];
    long stride = 3L * width;
    int tid = threadIdx.x, row = tid >> 2, quad = tid & 3;
    int query = first_query + row;
    bool active = query < length;

    for (int e = tid; e < TILE * head_width; e += blockDim.x) {
        int r = e / head_width, j = e % head_width;
        q_tile[r][j] = first_query + r < length
            ? load_f(qkv, (start + first_query + r) * stride + (long)head * head_width + j) * scale : 0.0f;
    }
    float accumulator[MAX_HEAD / 4];   // registers: every index below is a constant once unrolled
#pragma unroll
    for (int i = 0; i < MAX_HEAD / 4; i++) accumulator[i] = 0.0f;
    float running_max = NEG_INF, running_sum = 0.0f;
    int key_end = (active && first_row_alone && query == 0) ? 1 : length;
    int tiles = (length + KEY_TILE - 1) / KEY_TILE;
    for (int tile = 0; tile < tiles; tile++) {
        int first_key = tile * KEY_TILE;
        __syncthreads();
        for (int e = tid; e < KEY_TILE * head_width; e += blockDim.x) {
            int r = e / head_width, j = e % head_width;
            bool inside = first_key + r < length;
            long base = (start + first_key + r) * stride + (long)head * head_width + j;
            k_tile[r][j] = inside ? load_f(qkv, base + width) : 0.0f;
            v_tile[r][j] = inside ? load_f(qkv, base + 2L * width) : 0.0f;
        }
        __syncthreads();
        // Scores of this row's keys: the quad's thread q takes keys q, q + 4, …
        float tile_max = NEG_INF;
        float scores[KEY_TILE / 4];
#pragma unroll
        for (int i = 0; i < KEY_TILE / 4; i++) {
            int c = quad + 4 * i, key = first_key + c;
            float s = NEG_INF;
            if (active && key < key_end) {
                s = 0.0f;
                for (int j = 0; j < head_width; j++) s += q_tile[row][j] * k_tile[c][j];
            }
            scores[i] = s;
            tile_max = fmaxf(tile_max, s);
        }
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
        float new_max = fmaxf(running_max, tile_max);
        float rescale = new_max == NEG_INF ? 1.0f : expf(running_max - new_max);
        float tile_sum = 0.0f;
#pragma unroll
        for (int i = 0; i < KEY_TILE / 4; i++) {
            float p = scores[i] == NEG_INF ? 0.0f : expf(scores[i] - new_max);
            p_tile[row][quad + 4 * i] = p;
            tile_sum += p;
        }
        tile_sum += __shfl_xor_sync(0xffffffffu, tile_sum, 1);
        tile_sum += __shfl_xor_sync(0xffffffffu, tile_sum, 2);
        running_sum = running_sum * rescale + tile_sum;
        running_max = new_max;
        __syncwarp();
        // This thread's output columns: quad, quad + 4, …
#pragma unroll
        for (int i = 0; i < MAX_HEAD / 4; i++) {
            int j = quad + 4 * i;
            if (j >= head_width) break;
            float a = accumulator[i] * rescale;
            for (int c = 0; c < KEY_TILE; c++) a += p_tile[row][c] * v_tile[c][j];
            accumulator[i] = a;
        }
    }
    if (!active) return;
    float inverse = 1.0f / running_sum;
#pragma unroll
    for (int i = 0; i < MAX_HEAD / 4; i++) {
        int j = quad + 4 * i;
        if (j >= head_width) break;
        store_f(context, (start + query) * (long)width + (long)head * head_width + j, accumulator[i] * inverse);
    }
}

// ---- Float32 gathers of the list head and pooling ----------------------------------------------------
// out[r] = x[r] + tags[tag_of_row[r]] for r < count; zero for count ≤ r < gridDim.x.
extern "C" __global__ void add_tags(const float *x, const float *tags, const int *tag_of_row, int count, int width,
                                    float *out) {
    long r = blockIdx.x;
    for (int j = threadIdx.x; j < width; j += blockDim.x)
        out[r * width + j] = r < count ? x[r * width + j] + tags[(long)tag_of_row[r] * width + j] : 0.0f;
}

// out[s] = mean of x's rows starts[s] .. starts[s] + lengths[s]. Grid: (column blocks, segments).
extern "C" __global__ void mean_pool(const float *x, const int *starts, const int *lengths, int width, float *out) {
    int s = blockIdx.y;
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= width) return;
    long start = starts[s];
    int length = lengths[s];
    float sum = 0.0f;
    for (int r = 0; r < length; r++) sum += x[(start + r) * width + j];
    out[(long)s * width + j] = sum / length;
}

// out[i] = [x[first[i]] ; x[second[i]]] for i < count, zero rows up to gridDim.x.
extern "C" __global__ void paired_rows(const float *x, const int *first, const int *second, int count, int width,
                                       float *out) {
    long i = blockIdx.x;
    for (int j = threadIdx.x; j < 2 * width; j += blockDim.x) {
        float v = 0.0f;
        if (i < count) v = j < width ? x[(long)first[i] * width + j] : x[(long)second[i] * width + j - width];
        out[i * 2L * width + j] = v;
    }
}

// out[r] = [a[r] ; b[r]]; one block per row.
extern "C" __global__ void concat_columns(const float *a, const float *b, int wa, int wb, float *out) {
    long r = blockIdx.x;
    for (int j = threadIdx.x; j < wa + wb; j += blockDim.x)
        out[r * (long)(wa + wb) + j] = j < wa ? a[r * (long)wa + j] : b[r * (long)wb + j - wa];
}

// ---- One exported kernel per precision ---------------------------------------------------------------
#define EXPORT(T, SUFFIX)                                                                                     \
extern "C" __global__ void embed_layer_norm_##SUFFIX(const int *ids, const int *positions_of_row, int tokens, \
        const float *words, const float *token_type, const float *positions, const float *gamma,               \
        const float *beta, float eps, int width, float *out, T *copy) {                                        \
    embed_layer_norm<T>(ids, positions_of_row, tokens, words, token_type, positions, gamma, beta, eps, width,  \
                        out, copy);                                                                            \
}                                                                                                              \
extern "C" __global__ void layer_norm_##SUFFIX(const float *x, const float *residual, const float *gamma,      \
        const float *beta, float eps, int width, float *out, T *copy) {                                        \
    layer_norm<T>(x, residual, gamma, beta, eps, width, out, copy);                                            \
}                                                                                                              \
extern "C" __global__ void attention_##SUFFIX(const T *qkv, const int *starts, const int *lengths, int width,  \
        int head_width, float scale, int first_row_alone, T *context) {                                        \
    attention<T>(qkv, starts, lengths, width, head_width, scale, first_row_alone, context);                    \
}                                                                                                              \
extern "C" __global__ void gelu_##SUFFIX(T *x, long count) { gelu<T>(x, count); }                              \
extern "C" __global__ void to_float_##SUFFIX(const T *x, long count, float *out) { to_float<T>(x, count, out); } \
extern "C" __global__ void from_float_##SUFFIX(const float *x, long count, T *out) {                           \
    from_float<T>(x, count, out);                                                                              \
}

EXPORT(float, f32)
EXPORT(bf16_t, bf16)
EXPORT(f16_t, f16)
"""#
}
