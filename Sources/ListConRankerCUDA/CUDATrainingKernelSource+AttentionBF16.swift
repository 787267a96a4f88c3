/// The attention kernels of bf16 training (issue 30): the same passes (the templates of
/// `CUDATrainingKernelSource+Attention.swift`, here over bf16 tiles), the same arguments and the
/// same Float32 probabilities as the Float32 kernels, with each tile product on the tensor cores
/// (`mma.sync` m16n8k16, bf16 inputs, Float32 accumulation), as PyTorch's autocast runs attention
/// in bf16: q, k, v, the dropped-out probabilities P̃, dC and dS are rounded to bf16 where a
/// product reads them; softmax, the probabilities, dP and dS's arithmetic stay Float32, and each tile
/// of dS, which only products read, goes to shared memory in bf16 (rounded once where it is
/// computed). The qkv and dC they read are
/// bf16 already (their products wrote them so, a ``CUDATrainingKernelSource`` caller's product
/// operands, or the caller converted them), so their tiles are copies, and they take half the memory
/// and traffic of Float32 ones.
///
/// Tiles go to shared memory as bf16 with their depth contiguous (a product's A as [rows, depth],
/// its B as [columns, depth]), so every fragment register is one 32-bit load; the loaders transpose
/// where the source is the other way round. Off the tensor cores (the software CUDA device of
/// `tools/cuda-emulator`, and GPUs before sm_80) the same fragments are multiplied by warp
/// shuffles, so the tests run these kernels, fragment layout included, on the CPU.
extension CUDATrainingKernelSource {
    /// The bf16 attention kernels' names: the Float32 kernels' names with `_bf16`.
    public static let attentionBF16KernelNames = attentionKernelNames.map { $0 + "_bf16" }

    static let attentionBF16Source = #"""
// ---- Attention on tensor cores (bf16 products; CUDATrainingBackend+Attention) ---------------------------
#define ATT_BF_PITCH (ATT_CHUNK + 8)      // bf16 per row of a [rows, head chunk] tile: 68 words, so a fragment's
                                          // 8 rows × 4 words fall in 32 distinct banks
#define ATT_BF_SQUARE (ATT_TILE + 8)      // bf16 per row of a [rows, 32] tile: 20 words, likewise

__device__ __forceinline__ float bf16_low(unsigned v) { return __uint_as_float(v << 16); }
__device__ __forceinline__ float bf16_high(unsigned v) { return __uint_as_float(v & 0xffff0000u); }

// d += A·B for one 16 × 8 × 16 tile (bf16 inputs, Float32 accumulation) in PTX's fragment layout for
// mma.m16n8k16: lane 4g + t holds A's rows g and g + 8 at depths 2t, 2t + 1 (a[0], a[1]) and 2t + 8,
// 2t + 9 (a[2], a[3]); B's column g at depths 2t, 2t + 1 (b[0]) and 2t + 8, 2t + 9 (b[1]); D's rows g
// (d[0], d[1]) and g + 8 (d[2], d[3]) at columns 2t, 2t + 1. A register holds two bf16, the lower
// index in its low half (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type": A, B
// and C/D each checked against its row and column formulas). Every lane of the warp calls it together.
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    // Each lane gathers what its four outputs need from the lanes that hold it: A's rows g, g + 8 from
    // lanes 4g + q, B's columns 2t, 2t + 1 from lanes 4·2t + q and 4·(2t + 1) + q, q = 0 … 3 (depths
    // 2q, 2q + 1 and 2q + 8, 2q + 9).
    int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int q = 0; q < 4; q++) {
        unsigned a0 = __shfl_sync(0xffffffffu, a[0], 4 * g + q), a1 = __shfl_sync(0xffffffffu, a[1], 4 * g + q);
        unsigned a2 = __shfl_sync(0xffffffffu, a[2], 4 * g + q), a3 = __shfl_sync(0xffffffffu, a[3], 4 * g + q);
        unsigned b00 = __shfl_sync(0xffffffffu, b[0], 8 * t + q), b01 = __shfl_sync(0xffffffffu, b[1], 8 * t + q);
        unsigned b10 = __shfl_sync(0xffffffffu, b[0], 8 * t + 4 + q), b11 = __shfl_sync(0xffffffffu, b[1], 8 * t + 4 + q);
        sum[0] += bf16_low(a0) * bf16_low(b00) + bf16_high(a0) * bf16_high(b00)
                + bf16_low(a2) * bf16_low(b01) + bf16_high(a2) * bf16_high(b01);
        sum[1] += bf16_low(a0) * bf16_low(b10) + bf16_high(a0) * bf16_high(b10)
                + bf16_low(a2) * bf16_low(b11) + bf16_high(a2) * bf16_high(b11);
        sum[2] += bf16_low(a1) * bf16_low(b00) + bf16_high(a1) * bf16_high(b00)
                + bf16_low(a3) * bf16_low(b01) + bf16_high(a3) * bf16_high(b01);
        sum[3] += bf16_low(a1) * bf16_low(b10) + bf16_high(a1) * bf16_high(b10)
                + bf16_low(a3) * bf16_low(b11) + bf16_high(a3) * bf16_high(b11);
    }
    for (int i = 0; i < 4; i++) d[i] += sum[i];
#endif
}

// tile[r·pitch + c] = bf16(src[r·row_step + c·column_step], times mask's value at the same index when given) for
// r < rows, c < columns; zero where r ≥ valid_rows or c ≥ valid_columns (padding to whole fragments). A bf16
// src (the qkv a product wrote in bf16) is copied as it is: rounding a bf16 value gives its own bits.
// Threads run along whichever index has the unit step in src, so global reads are coalesced.
template <class Source>
__device__ void load_bf16_tile(unsigned short *tile, int pitch, int rows, int columns, const Source *src,
                               DropoutMask mask, long row_step, long column_step, int valid_rows, int valid_columns) {
    for (int e = threadIdx.x; e < rows * columns; e += blockDim.x) {
        int r = column_step == 1 ? e / columns : e % rows, c = column_step == 1 ? e % columns : e / rows;
        float value = 0.0f;
        if (r < valid_rows && c < valid_columns) {
            long at = r * row_step + c * column_step;
            value = mask ? element_value(src, at) * mask[at] : element_value(src, at);
        }
        tile[r * pitch + c] = bf16_bits(value);
    }
}

// acc[m][j] += the 16 × 8 block (rows 16m, columns n = 8·(warp + 4j)) of A·Bᵀ, for A [32, depth] and B
// [columns, depth] bf16 tiles (depth a multiple of 16, zero-padded); blocks past `columns` are skipped.
template <int BLOCKS>
__device__ __forceinline__ void warp_tile_mma(float (&acc)[2][BLOCKS][4], const unsigned short *a, int a_pitch,
                                              const unsigned short *b, int b_pitch, int depth, int columns) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    for (int k0 = 0; k0 < depth; k0 += 16) {
        unsigned fa[2][4];
#pragma unroll
        for (int m = 0; m < 2; m++) {
            const unsigned short *row = a + (16 * m + g) * a_pitch + k0 + 2 * t;
            fa[m][0] = *(const unsigned *)row;
            fa[m][1] = *(const unsigned *)(row + 8 * a_pitch);
            fa[m][2] = *(const unsigned *)(row + 8);
            fa[m][3] = *(const unsigned *)(row + 8 * a_pitch + 8);
        }
#pragma unroll
        for (int j = 0; j < BLOCKS; j++) {
            int n0 = 8 * (warp + 4 * j);
            if (n0 >= columns) break;   // the same for the whole warp
            const unsigned short *column = b + (n0 + g) * b_pitch + k0 + 2 * t;
            unsigned fb[2] = {*(const unsigned *)column, *(const unsigned *)(column + 8)};
            mma_bf16_16816(acc[0][j], fa[0], fb);
            mma_bf16_16816(acc[1][j], fa[1], fb);
        }
    }
}

template <int BLOCKS> __device__ __forceinline__ void clear_fragments(float (&acc)[2][BLOCKS][4]) {
#pragma unroll
    for (int m = 0; m < 2; m++)
#pragma unroll
        for (int j = 0; j < BLOCKS; j++)
#pragma unroll
            for (int i = 0; i < 4; i++) acc[m][j][i] = 0.0f;
}

// Where element i of fragment (m, j) lies in the warp tile: row 16m + g + 8·(i / 2), column
// 8·(warp + 4j) + 2t + i % 2.
__device__ __forceinline__ int fragment_row(int m, int i) { return 16 * m + ((threadIdx.x & 31) >> 2) + 8 * (i >> 1); }
__device__ __forceinline__ int fragment_column(int j, int i) {
    return 8 * ((threadIdx.x >> 5) + 4 * j) + 2 * (threadIdx.x & 3) + (i & 1);
}

// One output element: Float32 written or added, or bf16 (rounded once, only ever written).
__device__ __forceinline__ void store_element(float *out, float value, bool add) { *out = add ? *out + value : value; }
__device__ __forceinline__ void store_element(unsigned short *out, float value, bool) { store_as(out, value); }

// out[row·stride + column] (+)= acc for rows < valid_rows and columns < columns.
template <int BLOCKS, class Out>
__device__ __forceinline__ void store_fragments(Out *out, long stride, int valid_rows, int columns,
                                                const float (&acc)[2][BLOCKS][4], bool add) {
#pragma unroll
    for (int m = 0; m < 2; m++)
#pragma unroll
        for (int j = 0; j < BLOCKS; j++)
#pragma unroll
            for (int i = 0; i < 4; i++) {
                int r = fragment_row(m, i), c = fragment_column(j, i);
                if (r >= valid_rows || c >= columns) continue;
                store_element(out + r * stride + c, acc[m][j][i], add);
            }
}

__device__ __forceinline__ int round_up(int x, int m) { return (x + m - 1) / m * m; }

#define ATT_BLOCKS (ATT_CHUNK / 32)   // 8-column blocks per warp across a head chunk (4 warps)

// bf16 tiles (the passes' Tiles, see the Float32 source): A's rows [32, depth] and B's rows [32, depth] for
// the head's dots, the Float32 staging and scores tiles (scores: the backward's), and the [32, 32] tile W and
// Bᵀ [head chunk, 32] for W·B.
struct BF16Tiles {
    unsigned short *a_rows, *b_rows, *w_block, *b_columns;
    float *staging, *scores;
    typedef float Dots[2][1][4];
    typedef float Head[2][ATT_BLOCKS][4];

    // A's chunk stays in a_rows from call to call when the head is one chunk: load_a says whether to load it
    // anyway (the first call). Each chunk's depth is zero-padded to whole fragments.
    template <class A, class B>
    __device__ void head_dots(const A *a, long a_stride, int a_valid, const B *b, long b_stride, int b_valid,
                              int d, bool load_a, Dots &dots) {
        clear_fragments(dots);
        for (int c0 = 0; c0 < d; c0 += ATT_CHUNK) {
            int w = min(ATT_CHUNK, d - c0), depth = round_up(w, 16);
            __syncthreads();
            if (load_a || d > ATT_CHUNK)
                load_bf16_tile(a_rows, ATT_BF_PITCH, ATT_TILE, depth, a + c0, 0, a_stride, 1, a_valid, w);
            load_bf16_tile(b_rows, ATT_BF_PITCH, ATT_TILE, depth, b + c0, 0, b_stride, 1, b_valid, w);
            __syncthreads();
            warp_tile_mma(dots, a_rows, ATT_BF_PITCH, b_rows, ATT_BF_PITCH, depth, ATT_TILE);
        }
    }

    template <class F> __device__ void each_dot(const Dots &dots, F f) {
        for (int m = 0; m < 2; m++)
            for (int e = 0; e < 4; e++) f(fragment_row(m, e), fragment_column(0, e), dots[m][0][e]);
    }

    __device__ void clear(Head &h) { clear_fragments(h); }
    template <class Out> __device__ void store(Out *out, long stride, int valid, int columns, const Head &h, bool add) {
        store_fragments(out, stride, valid, columns, h, add);
    }

    // W in bf16, rounded once here: the products read it so.
    __device__ void set_weight(int r, int c, float value) { w_block[r * ATT_BF_SQUARE + c] = bf16_bits(value); }
    // Bᵀ [column, key]: row step 1, column step b_stride.
    template <class B> __device__ void load_values(const B *b, long b_stride, int valid, int columns) {
        load_bf16_tile(b_columns, ATT_BF_SQUARE, round_up(columns, 8), ATT_TILE, b, 0, 1, b_stride, columns, valid);
    }
    __device__ void weights_times_values(Head &acc, int columns) {
        warp_tile_mma(acc, w_block, ATT_BF_SQUARE, b_columns, ATT_BF_SQUARE, ATT_TILE, columns);
    }
};

// bf16 tiles of the keys pass: the dots' tiles (their A and B rows in the arrays that later hold dCᵀ and Qᵀ,
// which are larger), P̃ᵀ and dSᵀ ([key, query]), dCᵀ and Qᵀ ([head chunk, query]).
struct BF16KeyTiles {
    BF16Tiles dots;
    unsigned short *weights, *dscores, *gradients, *queries;
    typedef float Head[2][ATT_BLOCKS][4];

    __device__ void clear(Head &h) { clear_fragments(h); }

    __device__ void set(int key, int query, float weight, float dscore) {
        weights[key * ATT_BF_SQUARE + query] = bf16_bits(weight);
        dscores[key * ATT_BF_SQUARE + query] = bf16_bits(dscore);
    }

    // The transposed head rows of a query tile (row step 1, column step the rows' stride).
    template <class DC, class Q>
    __device__ void load(const DC *dc_rows, long dc_stride, const Q *q_rows, long q_stride, int valid, int columns) {
        int rows = round_up(columns, 8);
        load_bf16_tile(gradients, ATT_BF_SQUARE, rows, ATT_TILE, dc_rows, 0, 1, dc_stride, columns, valid);
        load_bf16_tile(queries, ATT_BF_SQUARE, rows, ATT_TILE, q_rows, 0, 1, q_stride, columns, valid);
    }

    __device__ void products(Head &dk, Head &dv, int columns) {
        warp_tile_mma(dv, weights, ATT_BF_SQUARE, gradients, ATT_BF_SQUARE, ATT_TILE, columns);
        warp_tile_mma(dk, dscores, ATT_BF_SQUARE, queries, ATT_BF_SQUARE, ATT_TILE, columns);
    }

    template <class Out> __device__ void store(Out *out, long stride, int valid, int columns, const Head &h, bool add) {
        store_fragments(out, stride, valid, columns, h, add);
    }
};
static_assert(ATT_TILE * ATT_BF_PITCH <= ATT_CHUNK * ATT_BF_SQUARE, "the keys pass's dots fit where dC and Q go");

extern "C" __global__ void attention_forward_train_bf16(const unsigned short *qkv, const int *starts, const int *lengths,
                                                        const long long *offsets, int width, int heads,
                                                        int first_row_alone, const unsigned char *mask,
                                                        float mask_scale, float *row_lse, void *context,
                                                        int context_bf16) {
    __shared__ __align__(16) unsigned short a_rows[ATT_TILE * ATT_BF_PITCH], b_rows[ATT_TILE * ATT_BF_PITCH];
    __shared__ __align__(16) unsigned short w_block[ATT_TILE * ATT_BF_SQUARE], b_columns[ATT_CHUNK * ATT_BF_SQUARE];
    __shared__ float staging[ATT_TILE * ATT_SQUARE];
    BF16Tiles tiles{a_rows, b_rows, w_block, b_columns, staging, 0};
    DropoutMask dropout(mask, mask_scale);
    // A context only products read is stored in bf16 (the encoder's in bf16 mode), else in Float32.
    if (context_bf16)
        attention_forward_pass(tiles, qkv, starts, lengths, offsets, width, heads, first_row_alone, dropout,
                               row_lse, (unsigned short *)context);
    else
        attention_forward_pass(tiles, qkv, starts, lengths, offsets, width, heads, first_row_alone, dropout,
                               row_lse, (float *)context);
}

extern "C" __global__ void attention_backward_queries_bf16(const unsigned short *qkv, const unsigned short *dcontext,
                                                           const int *starts, const int *lengths,
                                                           const long long *offsets, int width,
                                                           int heads, int first_row_alone, const float *row_lse,
                                                           const unsigned char *mask, float mask_scale,
                                                           float *row_dots, void *dqkv, int replace, int dqkv_bf16) {
    __shared__ __align__(16) unsigned short a_rows[ATT_TILE * ATT_BF_PITCH], b_rows[ATT_TILE * ATT_BF_PITCH];
    __shared__ __align__(16) unsigned short w_block[ATT_TILE * ATT_BF_SQUARE], b_columns[ATT_CHUNK * ATT_BF_SQUARE];
    __shared__ float staging[ATT_TILE * ATT_SQUARE], scores[ATT_TILE * ATT_SQUARE];
    BF16Tiles tiles{a_rows, b_rows, w_block, b_columns, staging, scores};
    DropoutMask dropout(mask, mask_scale);
    // A dqkv only products read is stored in bf16 (the encoder's in bf16 mode, replaced), else in Float32.
    if (dqkv_bf16)
        attention_queries_pass(tiles, qkv, dcontext, starts, lengths, offsets, width, heads, first_row_alone,
                               row_lse, dropout, row_dots, (unsigned short *)dqkv, true);
    else
        attention_queries_pass(tiles, qkv, dcontext, starts, lengths, offsets, width, heads, first_row_alone,
                               row_lse, dropout, row_dots, (float *)dqkv, replace != 0);
}

extern "C" __global__ void attention_backward_keys_bf16(const unsigned short *qkv, const unsigned short *dcontext,
                                                        const int *starts, const int *lengths,
                                                        const long long *offsets, int width, int heads,
                                                        int first_row_alone, const float *row_lse,
                                                        const unsigned char *mask, float mask_scale,
                                                        const float *row_dots, void *dqkv, int replace, int dqkv_bf16) {
    __shared__ __align__(16) unsigned short weights[ATT_TILE * ATT_BF_SQUARE], dscores[ATT_TILE * ATT_BF_SQUARE];
    __shared__ __align__(16) unsigned short gradients[ATT_CHUNK * ATT_BF_SQUARE], queries[ATT_CHUNK * ATT_BF_SQUARE];
    __shared__ float staging[ATT_TILE * ATT_SQUARE], scores[ATT_TILE * ATT_SQUARE];
    BF16KeyTiles tiles{BF16Tiles{gradients, queries, 0, 0, staging, scores}, weights, dscores, gradients, queries};
    DropoutMask dropout(mask, mask_scale);
    if (dqkv_bf16)
        attention_keys_pass(tiles, qkv, dcontext, starts, lengths, offsets, width, heads, first_row_alone,
                            row_lse, dropout, row_dots, (unsigned short *)dqkv, true);
    else
        attention_keys_pass(tiles, qkv, dcontext, starts, lengths, offsets, width, heads, first_row_alone,
                            row_lse, dropout, row_dots, (float *)dqkv, replace != 0);
}

"""#
}
