/// The attention kernels of GPU training (issue 30): attention that keeps only each query row's
/// log-sum-exp, the GPU twins of `ListAttentionOps` and `EncoderAttentionOps`, for the encoder's
/// texts and the list head's lists alike.
///
/// Each (segment, head) pair is a few small matrix products (`S = QKᵀ`, `C = P̃V` forward;
/// `dP = dC·Vᵀ`, `dQ = dS·K`, `dK = dSᵀ·Q`, `dV = P̃ᵀ·dC` backward), so the kernels are tiled
/// products through shared memory: a block of 128 threads owns a 32-row tile of one segment and
/// head, and each thread a 4 × (up to 8) register tile of the block's output, so that every value
/// read from shared memory feeds several multiply-adds and every global read is a coalesced row.
/// Nothing of a segment's size L² is stored, as in FlashAttention (Dao et al., 2022; Dao, 2023):
/// the forward keeps each query row's log-sum-exp, and every pass forms the probabilities, dP and
/// dS it needs a 32 × 32 tile at a time in shared memory from dots of the products' operands, so
/// nothing here bounds the segment length; the backward's only other state is each query row's
/// `rowsum(P ⊙ dP)`, from its first pass to its second. A head wider than 128 columns (an
/// m3e-small list head's 1792 / 8 = 224) goes through shared memory 128 columns at a time, so
/// nothing bounds the head width either.
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
// ---- Attention keeping row statistics (ListAttentionOps, EncoderAttentionOps) ----------------------------
// qkv [rows, 3·width] (q, k, v side by side per row; bf16 for the bf16 kernels); segment s is rows
// starts[s] ..< starts[s] + lengths[s]. first_row_alone: a segment's first row attends to itself only
// (ListAttention's query row). mask (optional): the dropout mask applied to the probabilities before the
// product with V, a byte per element (DropoutMask: mask, mask_scale), the [L, L] block of (segment s,
// head h) at offsets[s] + h·L², row-major. row_lse (the
// forward's, the backward reads it) and row_dots (the backward's first pass's, its second reads it): a
// Float32 per query row and head, each query row's log-sum-exp of its scaled scores over its visible keys
// and rowsum(P ⊙ dP), those of (segment s, head h) from heads·starts[s] + h·L on.
// Grid: (segments, heads, 32-row tiles of the longest segment); block: 128 threads. A head's columns go
// through shared memory ATT_CHUNK at a time.
//
// No [L, L] block of Float32 is stored (a byte mask is read, drawn before the forward: drawing it where it
// is read, a Philox call an element each of the four times it is read, costs more integer work than its bytes
// cost traffic): P = exp(S − lse), dP = (dC·Vᵀ) ⊙ M and
// dS = P ⊙ (dP − rowsum(P ⊙ dP))/√d are formed a 32 × 32 tile at a time in shared memory, and the products
// that read them run on the tile there (FlashAttention's forward and backward, here in three passes of
// their own: the queries' pass writes dQ and the keys' pass dK and dV, so no entry is added to by two
// blocks), at the price of the scores' dots computed again in each pass.
//
// The three passes are written once (attention_forward_pass, attention_queries_pass, attention_keys_pass)
// over the tile arithmetic of a precision: FloatTiles and FloatKeyTiles here (Float32 on the CUDA cores),
// BF16Tiles and BF16KeyTiles in the bf16 source (tensor cores). A Tiles type gives
//   Dots                            a thread's share of a 32 × 32 tile of A·Bᵀ,
//   head_dots(…)                    that tile over a head's columns, for 32 rows of A against 32 of B,
//   each_dot(dots, f)               f(row, column, value) for each of this thread's entries,
//   staging, scores                 Float32 [32, ATT_SQUARE] tiles in shared memory for dots (scores: the
//                                   backward's),
//   Head, clear, store              a thread's share of 32 rows of a head chunk, and its store (written or
//                                   added),
//   set_weight(r, c, v)             W[r, c] = v in the [32, 32] tile W of W·B (rounded as its products
//                                   round), which may be staging itself (a thread writes only entries it
//                                   read),
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

// A dropout mask as the GPU keeps it, whose value where an element is kept is `scale` = 1/(1 − p) and 0
// elsewhere: the Float32 mask's values (so a product with it is the same), as a byte per element, 1 where the
// element is kept (a quarter of a Float32 mask's traffic). None (a null pointer): no dropout.
struct DropoutMask {
    const unsigned char *keep;
    float scale;
    __device__ DropoutMask(const unsigned char *keep = 0, float scale = 0.0f) : keep(keep), scale(scale) {}
    __device__ explicit operator bool() const { return keep != 0; }
    __device__ float operator[](long i) const { return keep[i] ? scale : 0.0f; }
    __device__ DropoutMask operator+(long i) const { return DropoutMask(keep ? keep + i : keep, scale); }
};

__device__ __forceinline__ int visible_keys(int i, int length, int first_row_alone) {
    return first_row_alone && i == 0 ? 1 : length;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

// Where a block's (segment, head) lies: the segment's length, the head's width, its q, k and v columns in
// row 0, the offset of the (segment, head) block of the dropout mask and its first row's in the per-row
// statistics (row_lse, row_dots), 1/√d, and the 32-row tiles.
// QKV: float, or in the bf16 tiles' passes unsigned short (bf16 bits: a qkv only their products read).
template <class QKV> struct AttentionBlock {
    int length, d, tiles;
    long first, stride, block, row_block;
    const QKV *head, *keys, *values;
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
    b.keys = b.head + width;
    b.values = b.head + 2L * width;
    b.scale = 1.0f / sqrtf((float)b.d);
    return b;
}

// target[r, c] (a [32, ATT_SQUARE] Float32 tile in shared memory: the tiles' staging or scores) = the dots of 32
// rows of A (a_rows, row stride a_stride, a_valid of them) against 32 of B, over a head of d columns; the
// caller syncs before reading it. load_a as head_dots'.
template <class Tiles, class A, class B>
__device__ void stage_dots(Tiles &tiles, float *target, const A *a_rows, long a_stride, int a_valid, const B *b_rows,
                           long b_stride, int b_valid, int d, bool load_a) {
    typename Tiles::Dots dots;
    tiles.head_dots(a_rows, a_stride, a_valid, b_rows, b_stride, b_valid, d, load_a, dots);
    tiles.each_dot(dots, [&](int r, int c, float dot) { target[r * ATT_SQUARE + c] = dot; });
}

// P[i, j] = exp(S[i, j] − lse_i) from the staged dot q_i · k_j (S = QKᵀ/√d) and row i's log-sum-exp: the
// softmax of row i over its visible keys, 0 for a key it does not see or one outside the segment.
template <class QKV>
__device__ __forceinline__ float probability(const AttentionBlock<QKV> &b, int i, int j, float dot, float lse,
                                             int first_row_alone) {
    return i < b.length && j < visible_keys(i, b.length, first_row_alone) ? expf(dot * b.scale - lse) : 0.0f;
}

// M[i, j] of the block's dropout mask (1 without one, or outside the segment).
template <class QKV>
__device__ __forceinline__ float kept(const AttentionBlock<QKV> &b, DropoutMask mask, int i, int j) {
    return mask && i < b.length && j < b.length ? mask[(long)i * b.length + j] : 1.0f;
}

// out (+)= W·B for the block's 32 query rows from q0 on (out: row q0's head columns, row stride out_stride), head
// chunk by head chunk and key tile by key tile: fill(k0) sets the tile W of keys k0 … (set_weight) after staging
// what it needs (stage_dots, whose head_dots syncs first: the last tile's product has read W and B), and B is
// the key tile's rows of b_rows (the segment's row 0 of K or V).
template <class Tiles, class QKV, class Out, class Fill>
__device__ void weights_times_head(Tiles &tiles, const AttentionBlock<QKV> &b, int q0, const QKV *b_rows, Out *out,
                                   long out_stride, bool add, Fill fill) {
    for (int c0 = 0; c0 < b.d; c0 += ATT_CHUNK) {
        int columns = min(ATT_CHUNK, b.d - c0);
        typename Tiles::Head acc;
        tiles.clear(acc);
        for (int t = 0; t < b.tiles; t++) {
            int k0 = t * ATT_TILE;
            fill(k0);
            tiles.load_values(b_rows + k0 * b.stride + c0, b.stride, b.length - k0, columns);
            __syncthreads();
            tiles.weights_times_values(acc, columns);
        }
        tiles.store(out + c0, out_stride, b.length - q0, columns, acc, add);
    }
}

// stats[the block's first row + i] = values[k] for warp w's rows i = q0 + w + 4k inside the segment (row_lse,
// row_dots: a value per query row, the same in every lane; lane 0 writes).
__device__ __forceinline__ void store_row_stats(float *stats, long row_block, int q0, int length,
                                                const float (&values)[ATT_ROWS_PER_WARP]) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane != 0) return;
#pragma unroll
    for (int k = 0; k < ATT_ROWS_PER_WARP; k++)
        if (q0 + warp + 4 * k < length) stats[row_block + q0 + warp + 4 * k] = values[k];
}

// Forward of 32 query rows. Once over the key tiles: S's tile staged from QKᵀ, and each row's running
// maximum and sum of exponentials (a warp per row, in key order), for its log-sum-exp, written to
// row_lse. Then, with a context, head chunk by head chunk, again: P̃ = exp(S − lse) ⊙ M as the tile W,
// and context += P̃·V. Without a context only the log-sum-exps (recomputation restoring what the
// backward reads, for a layer that kept its context). Context: float, or in the bf16 tiles' pass
// unsigned short (bf16 bits: a context only products read).
template <class Tiles, class QKV, class Context>
__device__ void attention_forward_pass(Tiles tiles, const QKV *qkv, const int *starts, const int *lengths,
                                       const long long *offsets, int width, int heads, int first_row_alone,
                                       DropoutMask mask, float *row_lse, Context *context) {
    AttentionBlock<QKV> b = attention_block(qkv, starts, lengths, offsets, width, heads);
    int q0 = blockIdx.z * ATT_TILE;
    if (q0 >= b.length) return;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    DropoutMask m = mask + b.block;
    const QKV *queries = b.head + q0 * b.stride, *keys = b.keys, *values = b.values;
    // Warp w takes the tile's rows w, w + 4, …: their statistics in registers (the same in every lane).
    float maximum[ATT_ROWS_PER_WARP], total[ATT_ROWS_PER_WARP];
#pragma unroll
    for (int k = 0; k < ATT_ROWS_PER_WARP; k++) {
        maximum[k] = ATT_NEG_INF;
        total[k] = 0.0f;
    }
    for (int t = 0; t < b.tiles; t++) {
        int k0 = t * ATT_TILE;
        stage_dots(tiles, tiles.staging, queries, b.stride, b.length - q0, keys + k0 * b.stride, b.stride,
                   b.length - k0, b.d, t == 0);
        __syncthreads();
#pragma unroll
        for (int k = 0; k < ATT_ROWS_PER_WARP; k++) {
            int r = warp + 4 * k, i = q0 + r, j = k0 + lane;
            float score = i < b.length && j < visible_keys(i, b.length, first_row_alone)
                ? tiles.staging[r * ATT_SQUARE + lane] * b.scale : ATT_NEG_INF;
            float next = fmaxf(maximum[k], warp_max(score));
            if (next == ATT_NEG_INF) continue;   // nothing visible yet (the same for the whole warp)
            total[k] = total[k] * expf(maximum[k] - next) + warp_sum(expf(score - next));
            maximum[k] = next;
        }
    }
    float lse[ATT_ROWS_PER_WARP];
#pragma unroll
    for (int k = 0; k < ATT_ROWS_PER_WARP; k++) lse[k] = maximum[k] + logf(total[k]);
    store_row_stats(row_lse, b.row_block, q0, b.length, lse);
    if (!context) return;
    Context *out = context + (b.first + q0) * width + (long)blockIdx.y * b.d;
    weights_times_head(tiles, b, q0, values, out, width, false, [&](int k0) {
        // (Q's rows are kept from the first sweep)
        stage_dots(tiles, tiles.staging, queries, b.stride, b.length - q0, keys + k0 * b.stride, b.stride,
                   b.length - k0, b.d, false);
        __syncthreads();
#pragma unroll
        for (int k = 0; k < ATT_ROWS_PER_WARP; k++) {
            int r = warp + 4 * k, i = q0 + r, j = k0 + lane;
            float p = probability(b, i, j, tiles.staging[r * ATT_SQUARE + lane], lse[k], first_row_alone);
            tiles.set_weight(r, lane, p * kept(b, m, i, j));
        }
    });
}

// The dots of one 32 × 32 tile (query rows q0 …, keys k0 …) that its probabilities and dP come from: S's
// (Q's rows against K's) in tiles.scores and dC·Vᵀ's in tiles.staging, for score_entry. KeyMajor: staged
// [key, query] (A the key rows), as the keys pass takes them.
template <bool KeyMajor, class Tiles, class QKV, class DContext>
__device__ __forceinline__ void stage_scores(Tiles &tiles, const AttentionBlock<QKV> &b, int q0, int k0,
                                             const DContext *dc, long dc_stride) {
    const QKV *queries = b.head + q0 * b.stride, *keys = b.keys + k0 * b.stride, *values = b.values + k0 * b.stride;
    const DContext *gradients = dc + q0 * dc_stride;
    int query_rows = b.length - q0, key_rows = b.length - k0;
    if (KeyMajor) {
        stage_dots(tiles, tiles.scores, keys, b.stride, key_rows, queries, b.stride, query_rows, b.d, true);
        stage_dots(tiles, tiles.staging, values, b.stride, key_rows, gradients, dc_stride, query_rows, b.d, true);
    } else {
        stage_dots(tiles, tiles.scores, queries, b.stride, query_rows, keys, b.stride, key_rows, b.d, true);
        stage_dots(tiles, tiles.staging, gradients, dc_stride, query_rows, values, b.stride, key_rows, b.d, true);
    }
    __syncthreads();
}

// Entry (query row q0 + r, key k0 + c) of a staged tile: P = exp(S − lse) with row q0 + r's log-sum-exp,
// P̃ = P ⊙ M and dP = (dC·Vᵀ) ⊙ M there (P and P̃ 0 for a key the row does not see or one outside the
// segment, where the dots of zero-padded rows are 0).
struct ScoreEntry { float p, dropped, dp; };
template <bool KeyMajor, class Tiles, class QKV>
__device__ __forceinline__ ScoreEntry score_entry(const Tiles &tiles, const AttentionBlock<QKV> &b, int q0, int k0,
                                                  int r, int c, float lse, int first_row_alone, DropoutMask mask) {
    int at = KeyMajor ? c * ATT_SQUARE + r : r * ATT_SQUARE + c;
    float keep = kept(b, mask, q0 + r, k0 + c);
    ScoreEntry e;
    e.p = probability(b, q0 + r, k0 + c, tiles.scores[at], lse, first_row_alone);
    e.dropped = e.p * keep;
    e.dp = tiles.staging[at] * keep;
    return e;
}

// Backward, first pass, for 32 query rows, from the forward's row_lse. Once over the key tiles: P's and
// dP's entries (stage_scores, score_entry), and D_i = Σ_j P[i, j] dP[i, j], each row's by one warp in key
// order, written to row_dots for the second pass. Then, head chunk by head chunk, again: dS = P ⊙ (dP − D)/√d
// as the tile W (in the tiles' rounding), and dQ += dS·K (replace: dQ =, each entry written by one block).
// Gradient: float, or in the bf16 tiles' passes unsigned short (bf16 bits, replaced only: a dqkv only products
// read).
// DContext: the type of QKV (only products read dC).
template <class Tiles, class QKV, class DContext, class Gradient>
__device__ void attention_queries_pass(Tiles tiles, const QKV *qkv, const DContext *dcontext, const int *starts,
                                       const int *lengths, const long long *offsets, int width, int heads,
                                       int first_row_alone, const float *row_lse, DropoutMask mask,
                                       float *row_dots, Gradient *dqkv, bool replace) {
    AttentionBlock<QKV> b = attention_block(qkv, starts, lengths, offsets, width, heads);
    int q0 = blockIdx.z * ATT_TILE;
    if (q0 >= b.length) return;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    DropoutMask m = mask + b.block;
    const DContext *dc = dcontext + b.first * width + (long)blockIdx.y * b.d;
    // Warp w takes the tile's rows w, w + 4, …: their log-sum-exps and D in registers (the same in every lane).
    float lse[ATT_ROWS_PER_WARP], weighted[ATT_ROWS_PER_WARP];
#pragma unroll
    for (int k = 0; k < ATT_ROWS_PER_WARP; k++) {
        int i = q0 + warp + 4 * k;
        lse[k] = i < b.length ? row_lse[b.row_block + i] : 0.0f;
        weighted[k] = 0.0f;
    }
    for (int t = 0; t < b.tiles; t++) {
        int k0 = t * ATT_TILE;
        stage_scores<false>(tiles, b, q0, k0, dc, width);
#pragma unroll
        for (int k = 0; k < ATT_ROWS_PER_WARP; k++) {
            ScoreEntry e = score_entry<false>(tiles, b, q0, k0, warp + 4 * k, lane, lse[k], first_row_alone, m);
            weighted[k] += warp_sum(e.p * e.dp);
        }
    }
    store_row_stats(row_dots, b.row_block, q0, b.length, weighted);
    Gradient *dq = dqkv + (b.first + q0) * b.stride + (long)blockIdx.y * b.d;
    weights_times_head(tiles, b, q0, b.keys, dq, b.stride, !replace, [&](int k0) {
        stage_scores<false>(tiles, b, q0, k0, dc, width);
#pragma unroll
        for (int k = 0; k < ATT_ROWS_PER_WARP; k++) {
            ScoreEntry e = score_entry<false>(tiles, b, q0, k0, warp + 4 * k, lane, lse[k], first_row_alone, m);
            tiles.set_weight(warp + 4 * k, lane, e.p * (e.dp - weighted[k]) * b.scale);
        }
    });
}

// Backward, second pass, for 32 key rows, head chunk by head chunk and query tile by query tile: the tile's
// P and dP (stage_scores, staged [key, query]; score_entry) from the forward's row_lse, then P̃ᵀ = (P ⊙ M)ᵀ
// and dSᵀ = (P ⊙ (dP − D)/√d)ᵀ with the first pass's row_dots, then dK += dSᵀ·Q and dV += P̃ᵀ·dC
// (replace: =).
template <class KeyTiles, class QKV, class DContext, class Gradient>
__device__ void attention_keys_pass(KeyTiles tiles, const QKV *qkv, const DContext *dcontext, const int *starts,
                                    const int *lengths, const long long *offsets, int width, int heads,
                                    int first_row_alone, const float *row_lse, DropoutMask mask,
                                    const float *row_dots, Gradient *dqkv, bool replace) {
    AttentionBlock<QKV> b = attention_block(qkv, starts, lengths, offsets, width, heads);
    int k0 = blockIdx.z * ATT_TILE;
    if (k0 >= b.length) return;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    DropoutMask m = mask + b.block;
    const DContext *dc = dcontext + b.first * width + (long)blockIdx.y * b.d;
    Gradient *out = dqkv + (b.first + k0) * b.stride + (long)blockIdx.y * b.d;
    for (int c0 = 0; c0 < b.d; c0 += ATT_CHUNK) {
        int columns = min(ATT_CHUNK, b.d - c0);
        typename KeyTiles::Head dk, dv;
        tiles.clear(dk);
        tiles.clear(dv);
        for (int t = 0; t < b.tiles; t++) {
            int q0 = t * ATT_TILE;
            // (head_dots syncs first: the last tile's products have read its tiles)
            stage_scores<true>(tiles.dots, b, q0, k0, dc, width);
            // The thread's entries: query rows warp + 4k, key lane (the mask's rows read in order).
#pragma unroll
            for (int k = 0; k < ATT_ROWS_PER_WARP; k++) {
                int r = warp + 4 * k, i = q0 + r;
                float lse = 0.0f, weighted = 0.0f;
                if (i < b.length) {
                    lse = row_lse[b.row_block + i];
                    weighted = row_dots[b.row_block + i];
                }
                ScoreEntry e = score_entry<true>(tiles.dots, b, q0, k0, r, lane, lse, first_row_alone, m);
                tiles.set(lane, r, e.dropped, e.p * (e.dp - weighted) * b.scale);
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
// operands; `right` holds W·B's B too), and two [32, ATT_SQUARE] ones for staged dots: `staging`, which is
// W too, and `scores` (the backward's: none in the forward).
struct FloatTiles {
    float *left, *right, *staging, *scores;
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
                                                   float *row_lse, float *context) {
    __shared__ float left[ATT_TILE * ATT_PITCH], right[ATT_TILE * ATT_PITCH], staging[ATT_TILE * ATT_SQUARE];
    attention_forward_pass(FloatTiles{left, right, staging, 0}, qkv, starts, lengths, offsets, width, heads,
                           first_row_alone, DropoutMask(mask, mask_scale), row_lse, context);
}

extern "C" __global__ void attention_backward_queries(const float *qkv, const float *dcontext, const int *starts,
                                                      const int *lengths, const long long *offsets, int width,
                                                      int heads, int first_row_alone, const float *row_lse,
                                                      const unsigned char *mask, float mask_scale, float *row_dots,
                                                      float *dqkv, int replace) {
    __shared__ float left[ATT_TILE * ATT_PITCH], right[ATT_TILE * ATT_PITCH];
    __shared__ float staging[ATT_TILE * ATT_SQUARE], scores[ATT_TILE * ATT_SQUARE];
    attention_queries_pass(FloatTiles{left, right, staging, scores}, qkv, dcontext, starts, lengths, offsets, width,
                           heads, first_row_alone, row_lse, DropoutMask(mask, mask_scale),
                           row_dots, dqkv, replace != 0);
}

extern "C" __global__ void attention_backward_keys(const float *qkv, const float *dcontext, const int *starts,
                                                   const int *lengths, const long long *offsets, int width, int heads,
                                                   int first_row_alone, const float *row_lse,
                                                   const unsigned char *mask, float mask_scale, const float *row_dots,
                                                   float *dqkv, int replace) {
    __shared__ float left[ATT_TILE * ATT_PITCH], right[ATT_TILE * ATT_PITCH];
    __shared__ float staging[ATT_TILE * ATT_SQUARE], scores[ATT_TILE * ATT_SQUARE], weights[ATT_TILE * ATT_SQUARE];
    attention_keys_pass(FloatKeyTiles{FloatTiles{left, right, staging, scores}, weights}, qkv, dcontext, starts,
                        lengths, offsets, width, heads, first_row_alone, row_lse,
                        DropoutMask(mask, mask_scale), row_dots, dqkv, replace != 0);
}

"""#
}
