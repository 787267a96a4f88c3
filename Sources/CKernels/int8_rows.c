// The elementwise work around an int8 product: activations quantised per row before it, and
// the result rescaled per row (plus bias and GELU) after it. oneDNN 2.6 runs int8 products
// with per-row scales on its fast (brgemm) kernels only as compile-time output scales, which
// cannot carry scales that change with every batch, so the row scales are applied here, in one
// pass over the output. Each loop is compiled for several CPU levels (multiversion.h) and is
// branch-free so that it vectorises.
#include "int8_rows.h"
#include "CKernels.h"
#include "multiversion.h"
#include <string.h>

// max |x| over a row, through the bit patterns: for non-NaN floats, |x|'s bits order as |x| does,
// and an integer max reduction vectorises where a float one (NaN rules) does not.
static inline float max_abs(const float *x, int64_t k) {
    uint32_t m = 0;
    for (int64_t c = 0; c < k; c++) {
        uint32_t bits;
        memcpy(&bits, &x[c], sizeof bits);
        bits &= 0x7fffffffu;
        m = bits > m ? bits : m;
    }
    float out;
    memcpy(&out, &m, sizeof out);
    return out;
}

LCR_MULTIVERSION
static void quantize_row(const float *x, int64_t k, int8_t *q, float *scale, float limit) {
    const float m = max_abs(x, k);
    const float inv = m > 0.0f ? limit / m : 0.0f;
    *scale = m / limit;
    // |x · inv| ≤ limit (up to rounding), so the conversion needs no clamp.
    for (int64_t c = 0; c < k; c++) q[c] = (int8_t)(int32_t)__builtin_rintf(x[c] * inv);
}

typedef struct {
    const float *x;
    int64_t k;
    int8_t *q;
    float *scales;
    float limit;
} quantize_job;

static void quantize_share(void *context, int64_t begin, int64_t end) {
    quantize_job *j = context;
    for (int64_t r = begin; r < end; r++) quantize_row(j->x + r * j->k, j->k, j->q + r * j->k, &j->scales[r], j->limit);
}

void lcr_quantize_rows_s8(const float *x, int64_t rows, int64_t k, int8_t *q, float *scales) {
    quantize_job job = {x, k, q, scales, 127.0f};
    const int64_t min_rows = k > 0 ? ((1 << 16) + k - 1) / k : rows;
    lcr_parallel_for(rows, min_rows, quantize_share, &job);
}

void lcr_quantize_weights_s8(const float *w, int64_t n, int64_t k, int8_t *q, float *scales, int limit) {
    quantize_job job = {w, k, q, scales, (float)limit};
    lcr_parallel_for(n, 16, quantize_share, &job);
}

// e^w for w ≤ 0 (w clamped at -87, where e^w is below every normal float's use here): 2^n · p(r)
// with r = w − n·ln 2 and a degree-6 Taylor polynomial (|r| ≤ ln2/2: relative error < 2e-8).
static inline float exp_nonpositive(float w) {
    w = w < -87.0f ? -87.0f : w;
    const float n = __builtin_rintf(w * 1.44269504088896341f);
    const float r = (w - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}

// GELU(v) = v/2 · (1 + erf(v/√2)), erf by Abramowitz–Stegun 7.1.26.
static inline float gelu_erf(float v) {
    const float z = v * 0.70710678118654752440f;
    const float a = z < 0.0f ? -z : z;
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    const float e = 1.0f - p * t * exp_nonpositive(-a * a);
    const float erf = z < 0.0f ? -e : e;
    return 0.5f * v * (1.0f + erf);
}

float lcr_int8_path_gelu(float x) { return gelu_erf(x); }

LCR_MULTIVERSION
static void dequantize_row(float *y, int64_t n, float scale, const float *bias, int gelu) {
    if (gelu) {
        if (bias) for (int64_t c = 0; c < n; c++) y[c] = gelu_erf(y[c] * scale + bias[c]);
        else for (int64_t c = 0; c < n; c++) y[c] = gelu_erf(y[c] * scale);
    } else {
        if (bias) for (int64_t c = 0; c < n; c++) y[c] = y[c] * scale + bias[c];
        else for (int64_t c = 0; c < n; c++) y[c] = y[c] * scale;
    }
}

typedef struct {
    float *y;
    int64_t n;
    const float *row_scales, *bias;
    int gelu;
} dequantize_job;

static void dequantize_share(void *context, int64_t begin, int64_t end) {
    dequantize_job *j = context;
    for (int64_t r = begin; r < end; r++) dequantize_row(j->y + r * j->n, j->n, j->row_scales[r], j->bias, j->gelu);
}

void lcr_dequantize_rows(float *y, int64_t rows, int64_t n, const float *row_scales, const float *bias, int gelu) {
    dequantize_job job = {y, n, row_scales, bias, gelu};
    const int64_t min_rows = n > 0 ? ((1 << 16) + n - 1) / n : rows;
    lcr_parallel_for(rows, min_rows, dequantize_share, &job);
}
