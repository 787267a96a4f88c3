/// The attention kernels of GPU training (issue 30): attention with stored probabilities, the GPU
/// twins of `ListAttentionOps` and `EncoderAttentionOps`, for the encoder's texts and the list
/// head's lists alike.
///
/// Each (segment, head) pair is a few small matrix products (`S = QKᵀ`, `C = P̃V` forward;
/// `dP = dC·Vᵀ`, `dQ = dS·K`, `dK = dSᵀ·Q`, `dV = P̃ᵀ·dC` backward), so the kernels are tiled
/// products through shared memory: a block of 128 threads owns a 32-row tile of one segment and
/// head, and each thread a 4 × (up to 8) register tile of the block's output, so that every value
/// read from shared memory feeds several multiply-adds and every global read is a coalesced row.
/// The probabilities, which the backward needs anyway, are written once and re-read from global
/// memory (the L2 holds a segment's), so nothing here bounds the segment length; the backward forms
/// dP and dS a 32 × 32 tile at a time in shared memory from them (keeping only each query row's
/// `rowsum(P ⊙ dP)` between its two passes), so it stores nothing of that size. A head wider than
/// 128 columns (an m3e-small list head's 1792 / 8 = 224) goes through shared memory 128 columns at a
/// time, so nothing bounds the head width either.
///
/// Sums run in Float32 in an order of their own, so results agree with the CPU ops to rounding, not
/// bit for bit (the trainer's 1e-4 gradient checks cover them).
extension CUDATrainingKernelSource {
    /// The attention kernels' names.
    public static let attentionKernelNames = ["attention_forward_train", "attention_backward_queries",
                                              "attention_backward_keys"]
    /// Rows (queries or keys) per tile: a block's share of a segment, and the grid's third dimension
    /// is the number of tiles of the longest segment.
    public static let attentionTile = 32
    /// Threads per block of every attention kernel (the register tiles assume exactly this many).
    public static let attentionThreads = 128

    static let attentionSource = #"""
// ---- Attention with stored probabilities (ListAttentionOps, EncoderAttentionOps) -------------------------
// qkv [rows, 3·width] (q, k, v side by side per row; bf16 for the bf16 kernels); segment s is rows
// starts[s] ..< starts[s] + lengths[s]; the probabilities of (segment s, head h) are the [L, L] block at
// offsets[s] + h·L², row-major, zero where masked. first_row_alone: a segment's first row attends to itself
// only (ListAttention's query row). mask (optional, same layout): the dropout mask applied to the
// probabilities before the product with V, a byte per element (DropoutMask). row_dots (backward): a Float32
// per query row and head, rowsum(P ⊙ dP) of (segment s, head h) at heads·starts[s] + h·L.
// Grid: (segments, heads, 32-row tiles of the longest segment); block: 128 threads. A head's columns go
// through shared memory ATT_CHUNK at a time.
//
// The backward never stores an [L, L] block: dP = (dC·Vᵀ) ⊙ M and dS = P ⊙ (dP − rowsum(P ⊙ dP))/√d are
// formed a 32 × 32 tile at a time in shared memory from the stored P and the products, and the products
// that read them run on the tile there (the scores' gradient of FlashAttention's backward, Dao 2023, here
// over stored probabilities), so the only traffic of the backward's size L² is reading P and its mask.
//
// The three passes are written once (attention_forward_pass, attention_queries_pass, attention_keys_pass)
// over the tile arithmetic of a precision: FloatTiles and FloatKeyTiles here (Float32 on the CUDA cores),
// BF16Tiles and BF16KeyTiles in the bf16 source (tensor cores). A Tiles type gives
//   Dots                            a thread's share of a 32 × 32 tile of A·Bᵀ,
//   head_dots(…)                    that tile over a head's columns, for 32 rows of A against 32 of B,
//   each_dot(dots, f)               f(row, column, value) for each of this thread's entries,
//   staging                         a Float32 [32, ATT_SQUARE] tile in shared memory for dots,
//   Head, clear, store              a thread's share of 32 rows of a head chunk, and its store (written or
//                                   added),
//   set_weight(r, c, v)             W[r, c] = v in the [32, 32] tile W of W·B (rounded as its products
//                                   round), which may be staging itself (a thread writes only entries it
//                                   read),
//   load_weights(…)                 W from a stored [L, L] block (times a mask),
//   load_values(…), weights_times_values(…)   B's 32 rows of a head chunk, and acc += W·B;
// a KeyTiles type, for dK and dV of 32 key rows, its `dots` (a Tiles for the dots), Head, clear, set (an
// entry of the [key, query] tiles P̃ᵀ and dSᵀ), load (a query tile's dC and Q rows of one head chunk, where
// the dots were), products and store.
#define ATT_TILE 32
#define ATT_CHUNK 128
#define ATT_PITCH (ATT_CHUNK + 1)      // head rows padded by one word: column reads fall in distinct banks
#define ATT_SQUARE (ATT_TILE + 1)      // [32, 32] tiles, padded the same way
#define ATT_ROWS_PER_WARP (ATT_TILE / 4)   // a tile's rows per warp where a warp takes a row at a time
#define ATT_NEG_INF __int_as_float(0xff800000u)

// A dropout mask as the GPU stores it: a byte per element, 1 where the element is kept, whose value
// there is `scale` = 1/(1 − p) and 0 elsewhere: the Float32 mask's values (so a product with it is the
// same), in a quarter of the memory traffic. No bytes (0, a null pointer): no dropout.
struct DropoutMask {
    const unsigned char *keep;
    float scale;
    __device__ DropoutMask(const unsigned char *keep = 0, float scale = 0.0f) : keep(keep), scale(scale) {}
    __device__ explicit operator bool() const { return keep != 0; }
    __device__ float operator[](long i) const { return keep[i] ? scale : 0.0f; }
    __device__ DropoutMask operator+(long i) const { return DropoutMask(keep ? keep + i : 0, scale); }
};

__device__ __forceinline__ int visible_keys(int i, int length, int first_row_alone) {
    return first_row_alone && i == 0 ? 1 : length;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

// Softmax in place of the raw logits in rows q0 ..< q0 + 32 of a block's P, over each row's visible keys
// (the others stay 0): a warp per row.
__device__ void softmax_rows(float *p, int q0, int length, int first_row_alone) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int r = warp; r < ATT_TILE && q0 + r < length; r += blockDim.x >> 5) {
        int i = q0 + r, visible = visible_keys(i, length, first_row_alone);
        float *row = p + (long)i * length;
        float maximum = ATT_NEG_INF;
        for (int j = lane; j < visible; j += 32) maximum = fmaxf(maximum, row[j]);
        maximum = warp_max(maximum);
        float sum = 0.0f;
        for (int j = lane; j < visible; j += 32) { float e = expf(row[j] - maximum); row[j] = e; sum += e; }
        sum = warp_sum(sum);
        for (int j = lane; j < visible; j += 32) row[j] /= sum;
    }
}

// Where a block's (segment, head) lies: the segment's length, the head's width, its q columns in row 0
// (+ width: k, + 2·width: v), the (segment, head) probability block's offset and its first row's in
// row_dots, 1/√d, and the 32-row tiles.
// QKV: float, or in the bf16 tiles' passes unsigned short (bf16 bits: a qkv only their products read).
template <class QKV> struct AttentionBlock {
    int length, d, tiles;
    long first, stride, block, row_block;
    const QKV *head;
    float scale;
};
template <class QKV>
__device__ __forceinline__ AttentionBlock<QKV> attention_block(const QKV *qkv, const int *starts, const int *lengths,
                                                               const long long *offsets, int width, int heads) {
    AttentionBlock<QKV> b;
    int s = blockIdx.x, h = blockIdx.y;
    b.length = lengths[s];
    b.d = width / heads;
    b.tiles = (b.length + ATT_TILE - 1) / ATT_TILE;
    b.first = starts[s];
    b.stride = 3L * width;
    b.block = offsets[s] + (long long)h * b.length * b.length;
    b.row_block = b.first * heads + (long)h * b.length;
    b.head = qkv + b.first * b.stride + (long)h * b.d;
    b.scale = 1.0f / sqrtf((float)b.d);
    return b;
}

// f(i, j, a_i · b_j) for the block's rows i = q0 … of A (a_rows: row q0, row stride a_stride) against every
// row j of the segment's B (b_rows: its row 0, row stride b.stride), i and j inside the segment; key tile by
// key tile, the dots over the whole head.
template <class Tiles, class QKV, class A, class F>
__device__ void each_row_dot(Tiles &tiles, const AttentionBlock<QKV> &b, int q0, const A *a_rows, long a_stride,
                             const QKV *b_rows, F f) {
    for (int t = 0; t < b.tiles; t++) {
        int k0 = t * ATT_TILE;
        typename Tiles::Dots dots;
        tiles.head_dots(a_rows, a_stride, b.length - q0, b_rows + k0 * b.stride, b.stride, b.length - k0, b.d, t == 0,
                        dots);
        tiles.each_dot(dots, [&](int r, int c, float dot) {
            int i = q0 + r, j = k0 + c;
            if (i < b.length && j < b.length) f(i, j, dot);
        });
    }
}

// tiles.staging[r, c] = the dots of 32 rows of A (a_rows, row stride a_stride, a_valid of them) against 32
// of B, over a head of d columns; the caller syncs before reading it. load_a as head_dots'.
template <class Tiles, class A, class B>
__device__ void stage_dots(Tiles &tiles, const A *a_rows, long a_stride, int a_valid, const B *b_rows, long b_stride,
                           int b_valid, int d, bool load_a) {
    typename Tiles::Dots dots;
    tiles.head_dots(a_rows, a_stride, a_valid, b_rows, b_stride, b_valid, d, load_a, dots);
    tiles.each_dot(dots, [&](int r, int c, float dot) { tiles.staging[r * ATT_SQUARE + c] = dot; });
}

// out (+)= (W ⊙ M)·B for the block's 32 rows row0 … of an [L, L] block W (rows w_stride elements apart, M
// laid out as W) and B's rows (b: row 0, row stride b_stride), head chunk by head chunk.
template <class Tiles, class W, class B, class Out>
__device__ void rows_times_head(Tiles &tiles, const W *w, long w_stride, DropoutMask mask, int length, int row0,
                                const B *b, long b_stride, int d, Out *out, long out_stride, bool add) {
    int tiles_count = (length + ATT_TILE - 1) / ATT_TILE;
    for (int c0 = 0; c0 < d; c0 += ATT_CHUNK) {
        int columns = min(ATT_CHUNK, d - c0);
        typename Tiles::Head acc;
        tiles.clear(acc);
        for (int t = 0; t < tiles_count; t++) {
            int k0 = t * ATT_TILE;
            __syncthreads();   // (the first also makes the rows of w this block wrote visible to all of it)
            tiles.load_weights(w, w_stride, mask, length, row0, k0);
            tiles.load_values(b + k0 * b_stride + c0, b_stride, length - k0, columns);
            __syncthreads();
            tiles.weights_times_values(acc, columns);
        }
        tiles.store(out + c0, out_stride, length - row0, columns, acc, add);
    }
}

// Forward of 32 query rows: logits S = QKᵀ/√d into P (key tile by key tile), each row's softmax over its
// visible keys in place, then context = (P ⊙ M)·V. With context null only P is computed (recomputation
// restoring P for a backward whose layer kept its context). Context: float, or in the bf16 tiles' pass
// unsigned short (bf16 bits: a context only products read).
template <class Tiles, class QKV, class Context>
__device__ void attention_forward_pass(Tiles tiles, const QKV *qkv, const int *starts, const int *lengths,
                                       const long long *offsets, int width, int heads, int first_row_alone,
                                       DropoutMask mask, float *probabilities, Context *context) {
    AttentionBlock<QKV> b = attention_block(qkv, starts, lengths, offsets, width, heads);
    int q0 = blockIdx.z * ATT_TILE;
    if (q0 >= b.length) return;
    float *p = probabilities + b.block;
    each_row_dot(tiles, b, q0, b.head + q0 * b.stride, b.stride, b.head + width, [&](int i, int j, float dot) {
        p[(long)i * b.length + j] = j < visible_keys(i, b.length, first_row_alone) ? dot * b.scale : 0.0f;
    });
    __syncthreads();
    softmax_rows(p, q0, b.length, first_row_alone);
    if (!context) return;
    rows_times_head(tiles, p, b.length, mask + b.block, b.length, q0, b.head + 2L * width, b.stride, b.d,
                    context + (b.first + q0) * width + (long)blockIdx.y * b.d, width, false);
}

// The score gradient's inputs at entry (i, j) of a query tile, from the staged dot (dC·Vᵀ)[i, j]: P[i, j],
// P̃ = P ⊙ M and dP = dot ⊙ M there, all 0 for a key that row i does not see or one outside the segment.
struct ScoreInputs { float p, dropped, dp; };
template <class QKV>
__device__ __forceinline__ ScoreInputs score_inputs(const AttentionBlock<QKV> &b, int i, int j, float dot,
                                                    int first_row_alone, const float *p, DropoutMask mask) {
    ScoreInputs s = {0.0f, 0.0f, 0.0f};
    if (i < b.length && j < visible_keys(i, b.length, first_row_alone)) {
        long at = (long)i * b.length + j;
        float keep = mask ? mask[at] : 1.0f;
        s.p = p[at];
        s.dropped = s.p * keep;
        s.dp = dot * keep;
    }
    return s;
}

// Backward, first pass, for 32 query rows. Once over the key tiles: dP's tile staged from dC·Vᵀ, and
// D_i = Σ_j P[i, j] dP[i, j], each row's by one warp in key order, written to row_dots for the second
// pass. Then, head chunk by head chunk, again: dS = P ⊙ (dP − D)/√d as the tile W (in the tiles'
// rounding), and dQ += dS·K (replace: dQ =, each entry written by one block). Gradient: float, or in the
// bf16 tiles' passes unsigned short (bf16 bits, replaced only: a dqkv only products read). DContext: the
// type of QKV (only products read dC).
template <class Tiles, class QKV, class DContext, class Gradient>
__device__ void attention_queries_pass(Tiles tiles, const QKV *qkv, const DContext *dcontext, const int *starts,
                                       const int *lengths, const long long *offsets, int width, int heads,
                                       int first_row_alone, const float *probabilities, DropoutMask mask,
                                       float *row_dots, Gradient *dqkv, bool replace) {
    AttentionBlock<QKV> b = attention_block(qkv, starts, lengths, offsets, width, heads);
    int q0 = blockIdx.z * ATT_TILE;
    if (q0 >= b.length) return;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const float *p = probabilities + b.block;
    DropoutMask m = mask + b.block;
    const DContext *dc = dcontext + (b.first + q0) * width + (long)blockIdx.y * b.d;
    const QKV *keys = b.head + width, *values = b.head + 2L * width;
    // Warp w takes the tile's rows w, w + 4, …: D of its rows in registers (the same in every lane).
    float weighted[ATT_ROWS_PER_WARP];
#pragma unroll
    for (int k = 0; k < ATT_ROWS_PER_WARP; k++) weighted[k] = 0.0f;
    for (int t = 0; t < b.tiles; t++) {
        int k0 = t * ATT_TILE;
        stage_dots(tiles, dc, width, b.length - q0, values + k0 * b.stride, b.stride, b.length - k0, b.d, t == 0);
        __syncthreads();
#pragma unroll
        for (int k = 0; k < ATT_ROWS_PER_WARP; k++) {
            int r = warp + 4 * k;
            ScoreInputs s = score_inputs(b, q0 + r, k0 + lane, tiles.staging[r * ATT_SQUARE + lane], first_row_alone,
                                         p, m);
            weighted[k] += warp_sum(s.p * s.dp);
        }
    }
    if (lane == 0) {
#pragma unroll
        for (int k = 0; k < ATT_ROWS_PER_WARP; k++)
            if (q0 + warp + 4 * k < b.length) row_dots[b.row_block + q0 + warp + 4 * k] = weighted[k];
    }
    Gradient *dq = dqkv + (b.first + q0) * b.stride + (long)blockIdx.y * b.d;
    for (int c0 = 0; c0 < b.d; c0 += ATT_CHUNK) {
        int columns = min(ATT_CHUNK, b.d - c0);
        typename Tiles::Head acc;
        tiles.clear(acc);
        for (int t = 0; t < b.tiles; t++) {
            int k0 = t * ATT_TILE;
            // (head_dots syncs first: the last tile's products have read W and B)
            stage_dots(tiles, dc, width, b.length - q0, values + k0 * b.stride, b.stride, b.length - k0, b.d, false);
            __syncthreads();
#pragma unroll
            for (int k = 0; k < ATT_ROWS_PER_WARP; k++) {
                int r = warp + 4 * k;
                ScoreInputs s = score_inputs(b, q0 + r, k0 + lane, tiles.staging[r * ATT_SQUARE + lane],
                                             first_row_alone, p, m);
                tiles.set_weight(r, lane, s.p * (s.dp - weighted[k]) * b.scale);
            }
            tiles.load_values(keys + k0 * b.stride + c0, b.stride, b.length - k0, columns);
            __syncthreads();
            tiles.weights_times_values(acc, columns);
        }
        tiles.store(dq + c0, b.stride, b.length - q0, columns, acc, !replace);
    }
}

// Backward, second pass, for 32 key rows, head chunk by head chunk and query tile by query tile: the
// tile's dPᵀ staged from V·dCᵀ, then P̃ᵀ = (P ⊙ M)ᵀ and dSᵀ = (P ⊙ (dP − D)/√d)ᵀ with the first pass's
// row_dots, then dK += dSᵀ·Q and dV += P̃ᵀ·dC (replace: =).
template <class KeyTiles, class QKV, class DContext, class Gradient>
__device__ void attention_keys_pass(KeyTiles tiles, const QKV *qkv, const DContext *dcontext, const int *starts,
                                    const int *lengths, const long long *offsets, int width, int heads,
                                    int first_row_alone, const float *probabilities, DropoutMask mask,
                                    const float *row_dots, Gradient *dqkv, bool replace) {
    AttentionBlock<QKV> b = attention_block(qkv, starts, lengths, offsets, width, heads);
    int k0 = blockIdx.z * ATT_TILE;
    if (k0 >= b.length) return;
    const float *p = probabilities + b.block;
    DropoutMask m = mask + b.block;
    const DContext *dc = dcontext + b.first * width + (long)blockIdx.y * b.d;
    const QKV *values = b.head + 2L * width + k0 * b.stride;
    Gradient *out = dqkv + (b.first + k0) * b.stride + (long)blockIdx.y * b.d;
    for (int c0 = 0; c0 < b.d; c0 += ATT_CHUNK) {
        int columns = min(ATT_CHUNK, b.d - c0);
        typename KeyTiles::Head dk, dv;
        tiles.clear(dk);
        tiles.clear(dv);
        for (int t = 0; t < b.tiles; t++) {
            int q0 = t * ATT_TILE;
            // staging[key, query]; head_dots syncs first (the last tile's products have read its tiles).
            stage_dots(tiles.dots, values, b.stride, b.length - k0, dc + q0 * width, width, b.length - q0, b.d, true);
            __syncthreads();
            // Lanes along the keys: P's rows are read in order.
            for (int e = threadIdx.x; e < ATT_TILE * ATT_TILE; e += blockDim.x) {
                int r = e / ATT_TILE, c = e % ATT_TILE, i = q0 + r;
                ScoreInputs s = score_inputs(b, i, k0 + c, tiles.dots.staging[c * ATT_SQUARE + r], first_row_alone,
                                             p, m);
                float dscore = i < b.length ? s.p * (s.dp - row_dots[b.row_block + i]) * b.scale : 0.0f;
                tiles.set(c, r, s.dropped, dscore);
            }
            tiles.load(dc + q0 * width + c0, width, b.head + q0 * b.stride + c0, b.stride, b.length - q0, columns);
            __syncthreads();
            tiles.products(dk, dv, columns);
        }
        tiles.store(out + width + c0, b.stride, b.length - k0, columns, dk, !replace);
        tiles.store(out + 2L * width + c0, b.stride, b.length - k0, columns, dv, !replace);
    }
}

// ---- Float32 tiles (the parity mode) ----------------------------------------------------------------------

// tile[r·pitch + c] = rows[r·stride + c] for r < 32, c < d; zero for the rows r ≥ valid (past the segment).
__device__ void load_head_rows(float *tile, int pitch, const float *rows, long stride, int valid, int d) {
    for (int e = threadIdx.x; e < ATT_TILE * d; e += blockDim.x) {
        int r = e / d, c = e % d;
        tile[r * pitch + c] = r < valid ? rows[r * stride + c] : 0.0f;
    }
}

// tile[r·ATT_SQUARE + c] = m[i, j] · mask[i, j] (no mask: m[i, j]) for i = row0 + r, j = col0 + c of a
// [length, length] block whose rows are `stride` elements apart (the mask laid out the same); zero outside it.
__device__ void load_square(float *tile, const float *m, long stride, DropoutMask mask, int length, int row0, int col0) {
    for (int e = threadIdx.x; e < ATT_TILE * ATT_TILE; e += blockDim.x) {
        int r = e / ATT_TILE, c = e % ATT_TILE, i = row0 + r, j = col0 + c;
        float value = 0.0f;
        if (i < length && j < length) {
            long at = (long)i * stride + j;
            value = mask ? m[at] * mask[at] : m[at];
        }
        tile[r * ATT_SQUARE + c] = value;
    }
}

// The register tile of a 32-row block product: acc[r][x] += Σ_{c < depth} A(i, c) · B(c, j) for the rows
// i = t/16 + 8r and the columns j = t%16 + 16x < columns of thread t, where A(i, c) = a[i·a_row + c·a_depth]
// and B(c, j) = b[c·b_depth + j·b_column] in shared memory (the strides name the layout, so one routine
// serves A·B, A·Bᵀ and Aᵀ·B). A warp reads two A values and sixteen consecutive B values per step.
template <int COLUMNS>
__device__ __forceinline__ void tile_product(const float *a, int a_row, int a_depth, const float *b, int b_depth,
                                             int b_column, int depth, int columns, float (&acc)[4][COLUMNS]) {
    int rows0 = threadIdx.x >> 4, columns0 = threadIdx.x & 15;
    for (int c = 0; c < depth; c++) {
        float av[4], bv[COLUMNS];
#pragma unroll
        for (int r = 0; r < 4; r++) av[r] = a[(rows0 + 8 * r) * a_row + c * a_depth];
#pragma unroll
        for (int x = 0; x < COLUMNS; x++)
            bv[x] = columns0 + 16 * x < columns ? b[c * b_depth + (columns0 + 16 * x) * b_column] : 0.0f;
#pragma unroll
        for (int r = 0; r < 4; r++)
#pragma unroll
            for (int x = 0; x < COLUMNS; x++) acc[r][x] += av[r] * bv[x];
    }
}

template <int COLUMNS> __device__ __forceinline__ void clear_tile(float (&acc)[4][COLUMNS]) {
#pragma unroll
    for (int r = 0; r < 4; r++)
#pragma unroll
        for (int x = 0; x < COLUMNS; x++) acc[r][x] = 0.0f;
}

// out[i·stride + j] (+)= acc for this thread's rows i < valid and columns j < columns.
__device__ __forceinline__ void store_head_tile(float *out, long stride, int valid, int columns,
                                                const float (&acc)[4][ATT_CHUNK / 16], bool add) {
    int rows0 = threadIdx.x >> 4, columns0 = threadIdx.x & 15;
#pragma unroll
    for (int r = 0; r < 4; r++) {
        int i = rows0 + 8 * r;
        if (i >= valid) continue;
#pragma unroll
        for (int x = 0; x < ATT_CHUNK / 16; x++) {
            int j = columns0 + 16 * x;
            if (j >= columns) continue;
            if (add) out[i * stride + j] += acc[r][x]; else out[i * stride + j] = acc[r][x];
        }
    }
}

// Float32 tiles: two [32, ATT_PITCH] shared arrays, A's rows on the left and B's on the right (the dots'
// operands; `right` holds W·B's B too), and a [32, ATT_SQUARE] one that is both the staged dots and W.
struct FloatTiles {
    float *left, *right, *staging;
    typedef float Dots[4][2];
    typedef float Head[4][ATT_CHUNK / 16];

    // A's chunk stays in `left` from call to call when the head is one chunk: load_a says whether to load
    // it anyway (the first call).
    __device__ void head_dots(const float *a_rows, long a_stride, int a_valid, const float *b_rows, long b_stride,
                              int b_valid, int d, bool load_a, Dots &dots) {
        clear_tile(dots);
        for (int c0 = 0; c0 < d; c0 += ATT_CHUNK) {
            int w = min(ATT_CHUNK, d - c0);
            __syncthreads();
            if (load_a || d > ATT_CHUNK) load_head_rows(left, ATT_PITCH, a_rows + c0, a_stride, a_valid, w);
            load_head_rows(right, ATT_PITCH, b_rows + c0, b_stride, b_valid, w);
            __syncthreads();
            tile_product(left, ATT_PITCH, 1, right, 1, ATT_PITCH, w, ATT_TILE, dots);
        }
    }

    template <class F> __device__ void each_dot(const Dots &dots, F f) {
        int rows0 = threadIdx.x >> 4, columns0 = threadIdx.x & 15;
#pragma unroll
        for (int r = 0; r < 4; r++)
#pragma unroll
            for (int x = 0; x < 2; x++) f(rows0 + 8 * r, columns0 + 16 * x, dots[r][x]);
    }

    __device__ void clear(Head &h) { clear_tile(h); }
    __device__ void store(float *out, long stride, int valid, int columns, const Head &h, bool add) {
        store_head_tile(out, stride, valid, columns, h, add);
    }

    __device__ void set_weight(int r, int c, float value) { staging[r * ATT_SQUARE + c] = value; }
    __device__ void load_weights(const float *w, long w_stride, DropoutMask mask, int length, int row0, int col0) {
        load_square(staging, w, w_stride, mask, length, row0, col0);
    }
    __device__ void load_values(const float *b_rows, long b_stride, int valid, int columns) {
        load_head_rows(right, ATT_PITCH, b_rows, b_stride, valid, columns);
    }
    __device__ void weights_times_values(Head &acc, int columns) {
        tile_product(staging, ATT_SQUARE, 1, right, ATT_PITCH, 1, ATT_TILE, columns, acc);
    }
};

// Float32 tiles of the keys pass: the dots' tiles (whose staging is dSᵀ, written over the staged dots
// entry by entry), P̃ᵀ ([key, query]), and a query tile's dC and Q rows of a head chunk in the dots' left
// and right arrays.
struct FloatKeyTiles {
    FloatTiles dots;
    float *weights;
    typedef float Head[4][ATT_CHUNK / 16];

    __device__ void clear(Head &h) { clear_tile(h); }

    __device__ void set(int key, int query, float weight, float dscore) {
        weights[key * ATT_SQUARE + query] = weight;
        dots.staging[key * ATT_SQUARE + query] = dscore;
    }

    __device__ void load(const float *dc_rows, long dc_stride, const float *q_rows, long q_stride, int valid,
                         int columns) {
        load_head_rows(dots.left, ATT_PITCH, dc_rows, dc_stride, valid, columns);
        load_head_rows(dots.right, ATT_PITCH, q_rows, q_stride, valid, columns);
    }

    __device__ void products(Head &dk, Head &dv, int columns) {
        tile_product(weights, ATT_SQUARE, 1, dots.left, ATT_PITCH, 1, ATT_TILE, columns, dv);
        tile_product(dots.staging, ATT_SQUARE, 1, dots.right, ATT_PITCH, 1, ATT_TILE, columns, dk);
    }

    __device__ void store(float *out, long stride, int valid, int columns, const Head &h, bool add) {
        store_head_tile(out, stride, valid, columns, h, add);
    }
};

extern "C" __global__ void attention_forward_train(const float *qkv, const int *starts, const int *lengths,
                                                   const long long *offsets, int width, int heads,
                                                   int first_row_alone, const unsigned char *mask, float mask_scale,
                                                   float *probabilities, float *context) {
    __shared__ float left[ATT_TILE * ATT_PITCH], right[ATT_TILE * ATT_PITCH], staging[ATT_TILE * ATT_SQUARE];
    attention_forward_pass(FloatTiles{left, right, staging}, qkv, starts, lengths, offsets, width, heads,
                           first_row_alone, DropoutMask(mask, mask_scale), probabilities, context);
}

extern "C" __global__ void attention_backward_queries(const float *qkv, const float *dcontext, const int *starts,
                                                      const int *lengths, const long long *offsets, int width,
                                                      int heads, int first_row_alone, const float *probabilities,
                                                      const unsigned char *mask, float mask_scale, float *row_dots,
                                                      float *dqkv, int replace) {
    __shared__ float left[ATT_TILE * ATT_PITCH], right[ATT_TILE * ATT_PITCH], staging[ATT_TILE * ATT_SQUARE];
    attention_queries_pass(FloatTiles{left, right, staging}, qkv, dcontext, starts, lengths, offsets, width, heads,
                           first_row_alone, probabilities, DropoutMask(mask, mask_scale), row_dots, dqkv,
                           replace != 0);
}

extern "C" __global__ void attention_backward_keys(const float *qkv, const float *dcontext, const int *starts,
                                                   const int *lengths, const long long *offsets, int width, int heads,
                                                   int first_row_alone, const float *probabilities,
                                                   const unsigned char *mask, float mask_scale, const float *row_dots,
                                                   float *dqkv, int replace) {
    __shared__ float left[ATT_TILE * ATT_PITCH], right[ATT_TILE * ATT_PITCH];
    __shared__ float staging[ATT_TILE * ATT_SQUARE], weights[ATT_TILE * ATT_SQUARE];
    attention_keys_pass(FloatKeyTiles{FloatTiles{left, right, staging}, weights}, qkv, dcontext, starts, lengths,
                        offsets, width, heads, first_row_alone, probabilities, DropoutMask(mask, mask_scale), row_dots,
                        dqkv, replace != 0);
}

"""#
}
