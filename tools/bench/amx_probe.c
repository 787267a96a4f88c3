// How fast can a bf16 matrix product go on this machine's AMX tiles, and how close does
// oneDNN come? A probe for BENCHMARKS.md ("Where the bf16 time goes"), not part of the package.
//
// It answers two questions that decide whether writing our own AMX kernel is worth it:
//  1. The tile peak: TDPBF16PS on data already in L1, on 1 and then 2 threads, several times
//     in a row (so the host's drift shows).
//  2. A plain tiled product (2×2 accumulator tiles, weights packed once in VNNI pairs, blocks
//     of the input packed per 256 rows, k in chunks of 512) against oneDNN's bf16 matmul of
//     the same shape, alternating call by call: per-round ratios and their median.
//
// Build and run (Debian's libdnnl-dev; clang from the Swift toolchain):
//   clang -O2 tools/bench/amx_probe.c -o /tmp/amx_probe -ldnnl -lpthread
//   /tmp/amx_probe 3232 1024 1024 [rounds]        # M K N: rows, input and output features
// M must be a multiple of 32, K and N of 32 (every BERT-large shape at a padded row count is).
#include <dnnl.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023  // Linux: ask for the AMX tile state before first use
#define XFEATURE_XTILEDATA 18
#define ROWS_PER_BLOCK 256          // input rows packed together and swept across all of N
#define K_CHUNK 512                 // k per accumulation pass (weights chunk 32 KB, in L1)
#define THREADS 2

#define CHECK(call) do { if ((call) != dnnl_success) { fprintf(stderr, "failed: %s\n", #call); exit(1); } } while (0)

typedef struct { uint8_t palette, start_row, reserved[14]; uint16_t bytes_per_row[16]; uint8_t rows[16]; } tile_config;

static double seconds(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static uint16_t to_bf16(float f) { uint32_t u; memcpy(&u, &f, 4); return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16); }
static int by_value(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

// Eight 16×16 tiles: 0–3 accumulate fp32, 4–5 hold input rows, 6–7 weight columns.
__attribute__((target("amx-tile")))
static void configure_tiles(void) {
    tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) { c.bytes_per_row[t] = 64; c.rows[t] = 16; }
    _tile_loadconfig(&c);
}

// ---- 1. Tile peak ----------------------------------------------------------------------------

#define PEAK_STEPS 1000000L
__attribute__((target("amx-tile,amx-bf16")))
static void *peak_thread(void *unused) {
    static _Thread_local uint16_t a[2][512] __attribute__((aligned(64))), b[2][512] __attribute__((aligned(64)));
    static _Thread_local float c[256] __attribute__((aligned(64)));
    (void)unused;
    configure_tiles();
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    for (long i = 0; i < PEAK_STEPS; i++) {
        _tile_loadd(4, a[0], 64); _tile_loadd(5, a[1], 64);
        _tile_loadd(6, b[0], 64); _tile_loadd(7, b[1], 64);
        _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7); _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, c, 64);
    _tile_release();
    return NULL;
}

static double peak_gflops(int threads) {
    pthread_t ids[THREADS];
    double start = seconds();
    for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, peak_thread, NULL);
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    // Each step: 4 products of 16×32 by 32×16, 2 flops per multiply-add.
    return threads * (double)PEAK_STEPS * 4 * 16 * 16 * 32 * 2 / (seconds() - start) / 1e9;
}

// ---- 2. A plain tiled product ---------------------------------------------------------------

// W [N,K] (PyTorch's layout) → [N/32][K/32][2 tiles][16 k-pairs][16 columns][2]: one 32-column
// panel's weights for one k step are 2 KB in a row, in the pair order TDPBF16PS reads.
static uint16_t *pack_weights(const uint16_t *w, int n, int k) {
    uint16_t *p = aligned_alloc(64, (size_t)n * k * 2);
    for (int panel = 0; panel < n / 32; panel++)
        for (int step = 0; step < k / 32; step++)
            for (int tile = 0; tile < 2; tile++)
                for (int pair = 0; pair < 16; pair++)
                    for (int col = 0; col < 16; col++)
                        for (int e = 0; e < 2; e++)
                            p[((((size_t)panel * (k / 32) + step) * 2 + tile) * 16 + pair) * 32 + col * 2 + e] =
                                w[(size_t)(panel * 32 + tile * 16 + col) * k + step * 32 + pair * 2 + e];
    return p;
}

// acc[32×32] (+)= 32 packed input rows · one weight panel, over `steps` k steps of 32.
__attribute__((target("amx-tile,amx-bf16")))
static void tile_block(const uint16_t *rows, const uint16_t *panel, int steps, float *acc, int first) {
    if (first) { _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3); }
    else { _tile_loadd(0, acc, 128); _tile_loadd(1, acc + 16, 128); _tile_loadd(2, acc + 512, 128); _tile_loadd(3, acc + 528, 128); }
    for (int s = 0; s < steps; s++, rows += 1024, panel += 1024) {
        _tile_loadd(4, rows, 64);
        _tile_loadd(6, panel, 64);
        _tile_loadd(7, panel + 512, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_loadd(5, rows + 512, 64);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, acc, 128); _tile_stored(1, acc + 16, 128); _tile_stored(2, acc + 512, 128); _tile_stored(3, acc + 528, 128);
}

typedef struct { const uint16_t *x, *packed; const float *bias; float *y; int m, n, k, share; } product_job;

static void *product_share(void *argument) {
    const product_job *j = argument;
    const int blocks = j->m / ROWS_PER_BLOCK + (j->m % ROWS_PER_BLOCK != 0), steps = j->k / 32;
    uint16_t *rows = aligned_alloc(64, (size_t)ROWS_PER_BLOCK * j->k * 2);
    float *acc = aligned_alloc(64, (size_t)ROWS_PER_BLOCK * 32 * sizeof(float));
    configure_tiles();
    for (int block = blocks * j->share / THREADS; block < blocks * (j->share + 1) / THREADS; block++) {
        const int row0 = block * ROWS_PER_BLOCK;
        const int count = j->m - row0 < ROWS_PER_BLOCK ? j->m - row0 : ROWS_PER_BLOCK;
        // Pack as [32-row group][k step][32 rows][32]: every tile load reads 1 KB in a row.
        for (int g = 0; g < count / 32; g++)
            for (int s = 0; s < steps; s++)
                for (int r = 0; r < 32; r++)
                    memcpy(rows + (((size_t)g * steps + s) * 32 + r) * 32, j->x + (size_t)(row0 + g * 32 + r) * j->k + s * 32, 64);
        for (int panel = 0; panel < j->n / 32; panel++) {
            const uint16_t *weights = j->packed + (size_t)panel * steps * 1024;
            for (int s0 = 0; s0 < steps; s0 += K_CHUNK / 32) {
                const int chunk = steps - s0 < K_CHUNK / 32 ? steps - s0 : K_CHUNK / 32;
                for (int g = 0; g < count / 32; g++)
                    tile_block(rows + ((size_t)g * steps + s0) * 1024, weights + (size_t)s0 * 1024, chunk, acc + (size_t)g * 1024, s0 == 0);
            }
            for (int r = 0; r < count; r++)
                for (int c = 0; c < 32; c++)
                    j->y[(size_t)(row0 + r) * j->n + panel * 32 + c] = acc[(size_t)(r / 32) * 1024 + (r % 32) * 32 + c] + j->bias[panel * 32 + c];
        }
    }
    free(rows);
    free(acc);
    return NULL;
}

static void tiled_product(const uint16_t *x, const uint16_t *packed, const float *bias, float *y, int m, int n, int k) {
    pthread_t other;
    product_job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) jobs[t] = (product_job){x, packed, bias, y, m, n, k, t};
    pthread_create(&other, NULL, product_share, &jobs[1]);
    product_share(&jobs[0]);
    pthread_join(other, NULL);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s M K N [rounds]\n", argv[0]); return 2; }
    const int m = atoi(argv[1]), k = atoi(argv[2]), n = atoi(argv[3]), rounds = argc > 4 ? atoi(argv[4]) : 15;
    if (m <= 0 || k <= 0 || n <= 0 || m % 32 || k % 32 || n % 32 || rounds < 1 || rounds > 1000) {
        fprintf(stderr, "M, K and N must be positive multiples of 32; rounds 1–1000\n");
        return 2;
    }
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)) { perror("AMX permission"); return 1; }

    printf("tile peak, data in L1 (GFLOP/s):");
    for (int i = 0; i < 5; i++) printf("  1 thread %.0f, 2 threads %.0f;", peak_gflops(1), peak_gflops(2));
    printf("\n");

    uint16_t *x = aligned_alloc(64, (size_t)m * k * 2), *w = malloc((size_t)n * k * 2);
    float *bias = malloc((size_t)n * sizeof(float));
    float *ours = aligned_alloc(64, (size_t)m * n * sizeof(float)), *theirs = aligned_alloc(64, (size_t)m * n * sizeof(float));
    srand(1);
    for (size_t i = 0; i < (size_t)m * k; i++) x[i] = to_bf16(rand() / (float)RAND_MAX - 0.5f);
    for (size_t i = 0; i < (size_t)n * k; i++) w[i] = to_bf16((rand() / (float)RAND_MAX - 0.5f) * 0.1f);
    for (int i = 0; i < n; i++) bias[i] = 0.001f * i;
    uint16_t *packed = pack_weights(w, n, k);

    // oneDNN's matmul, weights in the layout it picks for this M, as `bench matmul`'s raw peer.
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    dnnl_dims_t x_dims = {m, k}, w_dims = {k, n}, b_dims = {1, n}, y_dims = {m, n};
    dnnl_memory_desc_t x_md, w_any_md, w_plain_md, b_md, y_md;
    CHECK(dnnl_memory_desc_init_by_tag(&x_md, 2, x_dims, dnnl_bf16, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&w_any_md, 2, w_dims, dnnl_bf16, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&w_plain_md, 2, w_dims, dnnl_bf16, dnnl_ba));
    CHECK(dnnl_memory_desc_init_by_tag(&b_md, 2, b_dims, dnnl_f32, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&y_md, 2, y_dims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd, reorder_pd;
    dnnl_primitive_t matmul, reorder;
    CHECK(dnnl_matmul_desc_init(&desc, &x_md, &w_any_md, &b_md, &y_md));
    CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t w_plain, w_packed, x_mem, b_mem, y_mem;
    CHECK(dnnl_memory_create(&w_plain, &w_plain_md, engine, w));
    CHECK(dnnl_memory_create(&w_packed, w_md, engine, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_reorder_primitive_desc_create(&reorder_pd, &w_plain_md, engine, w_md, engine, NULL));
    CHECK(dnnl_primitive_create(&reorder, reorder_pd));
    dnnl_exec_arg_t reorder_args[2] = {{DNNL_ARG_FROM, w_plain}, {DNNL_ARG_TO, w_packed}};
    CHECK(dnnl_primitive_execute(reorder, stream, 2, reorder_args));
    CHECK(dnnl_stream_wait(stream));
    CHECK(dnnl_memory_create(&x_mem, &x_md, engine, x));
    CHECK(dnnl_memory_create(&b_mem, &b_md, engine, bias));
    CHECK(dnnl_memory_create(&y_mem, &y_md, engine, theirs));
    CHECK(dnnl_primitive_create(&matmul, pd));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_packed}, {DNNL_ARG_BIAS, b_mem}, {DNNL_ARG_DST, y_mem}};

    double *ratio = malloc((size_t)rounds * sizeof(double)), best_ours = 1e9, best_theirs = 1e9;
    for (int r = -1; r < rounds; r++) {  // round -1 warms both up
        double start = seconds();
        tiled_product(x, packed, bias, ours, m, n, k);
        const double t_ours = seconds() - start;
        start = seconds();
        CHECK(dnnl_primitive_execute(matmul, stream, 4, args));
        CHECK(dnnl_stream_wait(stream));
        const double t_theirs = seconds() - start;
        if (r < 0) continue;
        ratio[r] = t_theirs / t_ours;
        if (t_ours < best_ours) best_ours = t_ours;
        if (t_theirs < best_theirs) best_theirs = t_theirs;
    }
    double largest_difference = 0;
    for (size_t i = 0; i < (size_t)m * n; i++) largest_difference = fmax(largest_difference, fabs(ours[i] - theirs[i]));
    qsort(ratio, rounds, sizeof(double), by_value);
    const double flops = 2.0 * m * n * k;
    printf("M=%d K=%d N=%d, %d rounds: tiled %.0f GFLOP/s, oneDNN %.0f GFLOP/s (fastest each); "
           "oneDNN time / tiled time: median %.2f (range %.2f–%.2f); max |difference| %.1e\n",
           m, k, n, rounds, flops / best_ours / 1e9, flops / best_theirs / 1e9, ratio[rounds / 2], ratio[0],
           ratio[rounds - 1], largest_difference);
    return 0;
}
