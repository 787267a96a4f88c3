// Which of oneDNN's matmul implementations runs each BERT-large product faster on this machine:
// the one oneDNN lists first (brgemm, on AVX-512/AMX CPUs) or its `gemm:jit`? A probe for
// BENCHMARKS.md ("Which oneDNN implementation"), behind the choice in Sources/CKernels/linear.c;
// not part of the package.
//
// Each product runs as in a bf16 pass: bf16 input, bias, the feed-forward's GELU fused, bf16
// output where the encoder writes one, and a different weight set for each of `layers` calls,
// so the weights come from memory as they do in a real pass. The two implementations alternate
// round by round; each round gives one ratio and the median is reported, because this
// machine's speed drifts by tens of percent within seconds.
//
// Build and run (Debian's libdnnl-dev; clang from the Swift toolchain):
//   clang -O2 tools/bench/matmul_implementations.c -o /tmp/matmul_implementations -ldnnl
//   /tmp/matmul_implementations 3232 [layers=12] [rounds=10]     # M: rows (tokens)
#include <dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int k, n, gelu, bf16_output;
    const char *name;
} shape;

// The encoder's four products, as BertEncoder runs them in bf16.
static const shape shapes[] = {
    {1024, 3072, 0, 1, "Q/K/V       1024 -> 3072"},
    {1024, 1024, 0, 0, "attn output 1024 -> 1024"},
    {1024, 4096, 1, 1, "FFN in+GELU 1024 -> 4096"},
    {4096, 1024, 0, 0, "FFN output  4096 -> 1024"},
};

typedef struct {
    dnnl_primitive_t primitive;
    dnnl_memory_desc_t src, weights, bias, dst;
    char impl[64];
} product;

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void check(dnnl_status_t status, const char *what) {
    if (status != dnnl_success) { fprintf(stderr, "oneDNN %s failed: %d\n", what, (int)status); exit(1); }
}

// The first implementation oneDNN offers (want_gemm = 0), or its gemm:jit (want_gemm = 1).
static int make(product *p, int m, const shape *s, int want_gemm) {
    dnnl_dims_t src_dims = {m, s->k}, w_dims = {s->k, s->n}, b_dims = {1, s->n}, dst_dims = {m, s->n};
    check(dnnl_memory_desc_init_by_tag(&p->src, 2, src_dims, dnnl_bf16, dnnl_ab), "src md");
    check(dnnl_memory_desc_init_by_tag(&p->weights, 2, w_dims, dnnl_bf16, dnnl_format_tag_any), "weights md");
    check(dnnl_memory_desc_init_by_tag(&p->bias, 2, b_dims, dnnl_f32, dnnl_ab), "bias md");
    check(dnnl_memory_desc_init_by_tag(&p->dst, 2, dst_dims, s->bf16_output ? dnnl_bf16 : dnnl_f32, dnnl_ab), "dst md");
    dnnl_matmul_desc_t desc;
    check(dnnl_matmul_desc_init(&desc, &p->src, &p->weights, &p->bias, &p->dst), "matmul desc");
    dnnl_primitive_attr_t attr;
    check(dnnl_primitive_attr_create(&attr), "attr");
    if (s->gelu) {
        dnnl_post_ops_t ops;
        check(dnnl_post_ops_create(&ops), "post-ops");
        check(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_gelu_erf, 0, 0), "GELU");
        check(dnnl_primitive_attr_set_post_ops(attr, ops), "set post-ops");
        dnnl_post_ops_destroy(ops);
    }
    dnnl_primitive_desc_iterator_t it;
    check(dnnl_primitive_desc_iterator_create(&it, &desc, attr, engine, NULL), "iterator");
    int found = 0;
    do {
        dnnl_primitive_desc_t pd = dnnl_primitive_desc_iterator_fetch(it);
        const char *impl = "";
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        if (!want_gemm || strncmp(impl, "gemm:jit", 8) == 0) {
            snprintf(p->impl, sizeof p->impl, "%s", impl);
            p->weights = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
            if (dnnl_memory_desc_get_size(&p->weights) > (size_t)4096 * 1024 * 2) {
                fprintf(stderr, "%s: packed weights larger than the buffers\n", impl);
                exit(1);
            }
            check(dnnl_primitive_create(&p->primitive, pd), "primitive");
            found = 1;
        }
        dnnl_primitive_desc_destroy(pd);
    } while (!found && dnnl_primitive_desc_iterator_next(it) == dnnl_success);
    dnnl_primitive_desc_iterator_destroy(it);
    dnnl_primitive_attr_destroy(attr);
    return found;
}

static void run(const product *p, void *src, void *weights, void *bias, void *dst) {
    dnnl_memory_t mem[4];
    check(dnnl_memory_create(&mem[0], &p->src, engine, src), "src");
    check(dnnl_memory_create(&mem[1], &p->weights, engine, weights), "weights");
    check(dnnl_memory_create(&mem[2], &p->bias, engine, bias), "bias");
    check(dnnl_memory_create(&mem[3], &p->dst, engine, dst), "dst");
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, mem[0]}, {DNNL_ARG_WEIGHTS, mem[1]},
                               {DNNL_ARG_BIAS, mem[2]}, {DNNL_ARG_DST, mem[3]}};
    check(dnnl_primitive_execute(p->primitive, stream, 4, args), "execute");
    check(dnnl_stream_wait(stream), "wait");
    for (int i = 0; i < 4; i++) dnnl_memory_destroy(mem[i]);
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int m = argc > 1 ? atoi(argv[1]) : 3232, layers = argc > 2 ? atoi(argv[2]) : 12;
    int rounds = argc > 3 ? atoi(argv[3]) : 10;
    if (m < 1 || layers < 1 || rounds < 1 || rounds > 1000) { fprintf(stderr, "usage: %s M [layers] [rounds]\n", argv[0]); return 2; }
    check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine");
    check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "stream");

    // Buffers big enough for every shape, 64-byte aligned like the package's tensors; the
    // values only need to be finite.
    size_t src_bytes = (size_t)m * 4096 * 2, dst_bytes = (size_t)m * 4096 * 4, w_bytes = (size_t)4096 * 1024 * 2;
    uint16_t *src = aligned_alloc(64, src_bytes);
    void *dst = aligned_alloc(64, dst_bytes);
    float *bias = aligned_alloc(64, 4096 * sizeof(float));
    uint16_t **weights = malloc((size_t)layers * sizeof *weights);
    if (!src || !dst || !bias || !weights) { fprintf(stderr, "out of memory\n"); return 1; }
    for (size_t i = 0; i < src_bytes / 2; i++) src[i] = 0x3c00 + (i % 7);  // bf16 around 0.008
    for (int i = 0; i < 4096; i++) bias[i] = 0.01f * (i % 3);
    for (int l = 0; l < layers; l++) {
        weights[l] = aligned_alloc(64, w_bytes);
        if (!weights[l]) { fprintf(stderr, "out of memory\n"); return 1; }
        for (size_t i = 0; i < w_bytes / 2; i++) weights[l][i] = 0x3c00 + (i % 5);
    }

    printf("M = %d rows, %d weight sets, %d rounds; per-row times are each side's fastest round\n", m, layers, rounds);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        product p[2];
        if (!make(&p[0], m, &shapes[s], 0)) { fprintf(stderr, "no implementation\n"); return 1; }
        if (!make(&p[1], m, &shapes[s], 1)) { printf("%s: oneDNN has no gemm:jit for it\n", shapes[s].name); continue; }
        double *ratio = malloc((size_t)rounds * sizeof *ratio), best[2] = {1e30, 1e30};
        for (int r = -1; r < rounds; r++) {  // round -1 warms up
            double t[2];
            for (int i = 0; i < 2; i++) {
                int v = (r & 1) ? 1 - i : i;  // which goes first alternates
                double start = now();
                for (int l = 0; l < layers; l++) run(&p[v], src, weights[l], bias, dst);
                t[v] = (now() - start) / layers / m * 1e6;
            }
            if (r < 0) continue;
            ratio[r] = t[0] / t[1];
            for (int v = 0; v < 2; v++) if (t[v] < best[v]) best[v] = t[v];
        }
        qsort(ratio, rounds, sizeof *ratio, by_value);
        printf("%s: %-26s %6.2f us/row, %-9s %6.2f us/row; gemm:jit speed-up, median of rounds: %.2f\n",
               shapes[s].name, p[0].impl, best[0], p[1].impl, best[1], ratio[rounds / 2]);
        free(ratio);
        for (int v = 0; v < 2; v++) dnnl_primitive_destroy(p[v].primitive);
    }
    return 0;
}
