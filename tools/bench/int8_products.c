// The four dense products of a BERT-large layer, fp32 against int8, through this project's own
// `lcr_linear` (Sources/CKernels/linear.c): the int8 times include the per-row quantisation of
// the input and the rescale (+ bias, GELU) of the output. Rounds alternate fp32 and int8 pass by
// pass (this machine's speed drifts); the median of each shape's per-round ratios is printed.
//
//   tools/bench/int8_products.sh [ROWS] [ROUNDS]       # builds this file with clang -O2, runs it
//
// Without a release build of the package this measures what int8 changes: the products are
// about 90% of an fp32 encoder pass (BENCHMARKS.md). ONEDNN_MAX_CPU_ISA=AVX2 emulates an
// AVX2-only CPU's kernels on this one.
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const int64_t rows = argc > 1 ? atoll(argv[1]) : 3232;   // the c20 list's rows (1 + 20 texts)
    const int rounds = argc > 2 ? atoi(argv[2]) : 7;
    // K × N, GELU: Q/K/V fused, attention output, feed-forward in (GELU), feed-forward out.
    const int64_t shapes[4][3] = {{1024, 3072, 0}, {1024, 1024, 0}, {1024, 4096, 1}, {4096, 1024, 0}};
    const char *names[4] = {"qkv 1024x3072", "attention out 1024x1024", "ffn in 1024x4096 +GELU", "ffn out 4096x1024"};
    char err[256], impl_f[128], impl_q[128];
    double layer_f = 0, layer_q = 0;
    double ratios_all[64];
    srand(7);
    for (int s = 0; s < 4; s++) {
        const int64_t k = shapes[s][0], n = shapes[s][1];
        float *w = malloc((size_t)(n * k) * 4), *b = malloc((size_t)n * 4), *x = malloc((size_t)(rows * k) * 4);
        float *y = malloc((size_t)(rows * n) * 4);
        for (int64_t i = 0; i < n * k; i++) w[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 0.04f;
        for (int64_t i = 0; i < n; i++) b[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 0.1f;
        for (int64_t i = 0; i < rows * k; i++) x[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 2.0f;
        lcr_linear *f = NULL, *q = NULL;
        if (lcr_linear_create(&f, w, b, n, k, LCR_F32, (int)shapes[s][2], 0, err, sizeof err)
            || lcr_linear_create(&q, w, b, n, k, LCR_INT8, (int)shapes[s][2], 0, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        lcr_linear_implementation(f, rows, impl_f, sizeof impl_f, err, sizeof err);
        lcr_linear_implementation(q, rows, impl_q, sizeof impl_q, err, sizeof err);
        lcr_linear_run(f, x, 0, rows, y, err, sizeof err);   // warm-up
        lcr_linear_run(q, x, 0, rows, y, err, sizeof err);
        double tf[64], tq[64];
        for (int r = 0; r < rounds && r < 64; r++) {
            for (int side = 0; side < 2; side++) {
                lcr_linear *l = ((r + side) % 2) ? q : f;   // which goes first alternates
                const double t0 = now();
                if (lcr_linear_run(l, x, 0, rows, y, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
                const double t = now() - t0;
                if (l == q) tq[r] = t; else tf[r] = t;
            }
            ratios_all[r] = tf[r] / tq[r];
        }
        qsort(ratios_all, (size_t)rounds, sizeof(double), compare);
        qsort(tf, (size_t)rounds, sizeof(double), compare);
        qsort(tq, (size_t)rounds, sizeof(double), compare);
        const double mf = tf[rounds / 2], mq = tq[rounds / 2];
        layer_f += mf;
        layer_q += mq;
        const double ops = 2.0 * (double)rows * (double)k * (double)n;
        printf("{\"product\": \"%s\", \"rows\": %lld, \"fp32_ms\": %.2f, \"int8_ms\": %.2f, \"fp32_GFLOPs\": %.0f, "
               "\"int8_GOPs\": %.0f, \"speedup_median_of_rounds\": %.2f, \"fp32_impl\": \"%s\", \"int8_impl\": \"%s\"}\n",
               names[s], (long long)rows, mf * 1e3, mq * 1e3, ops / mf / 1e9, ops / mq / 1e9,
               ratios_all[rounds / 2], impl_f, impl_q);
        fflush(stdout);
        lcr_linear_destroy(f);
        lcr_linear_destroy(q);
        free(w); free(b); free(x); free(y);
    }
    printf("{\"layer_fp32_ms\": %.1f, \"layer_int8_ms\": %.1f, \"layer_speedup\": %.2f, \"encoder_24_layers_fp32_s\": %.2f, "
           "\"encoder_24_layers_int8_s\": %.2f}\n", layer_f * 1e3, layer_q * 1e3, layer_f / layer_q, 24 * layer_f, 24 * layer_q);
    return 0;
}
