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

_Static_assert(LCR_INT8_OUTLIERS == 2, "dequantize_row adds two outliers per row");

// max |x| over a row, through the bit patterns: for non-NaN floats, |x|'s bits order as |x| does,
// and an integer max reduction vectorises where a float one (NaN rules) does not.
static inline uint32_t max_abs_bits(const float *x, int64_t k) {
    uint32_t m = 0;
    for (int64_t c = 0; c < k; c++) {
        uint32_t bits;
        memcpy(&bits, &x[c], sizeof bits);
        bits &= 0x7fffffffu;
        m = bits > m ? bits : m;
    }
    return m;
}

static inline float max_abs(const float *x, int64_t k) {
    const uint32_t m = max_abs_bits(x, k);
    float out;
    memcpy(&out, &m, sizeof out);
    return out;
}

// The largest |x| bits over x[0..k) leaving out the `nskip` indices of `skip` (ascending):
// the vectorised reduction over each stretch between them.
static inline uint32_t max_abs_bits_skipping(const float *x, int64_t k, const int32_t *skip, int nskip) {
    uint32_t m = 0;
    int64_t begin = 0;
    for (int s = 0; s <= nskip; s++) {
        const int64_t end = s < nskip ? skip[s] : k;
        const uint32_t part = max_abs_bits(x + begin, end - begin);
        m = part > m ? part : m;
        begin = end + 1;
    }
    return m;
}

// The first index outside `skip` whose |x| has the bits `m` (there is one: m came from the
// same stretches). Blocks of 16 are tested with one vector compare before any is looked at.
static inline int32_t index_of_abs_bits(const float *x, int64_t k, const int32_t *skip, int nskip, uint32_t m) {
    int64_t c = 0;
    for (; c + 16 <= k; c += 16) {
        int any = 0;
        for (int i = 0; i < 16; i++) {
            uint32_t bits;
            memcpy(&bits, &x[c + i], sizeof bits);
            any |= (bits & 0x7fffffffu) == m;
        }
        if (!any) continue;
        for (int i = 0; i < 16; i++) {
            uint32_t bits;
            memcpy(&bits, &x[c + i], sizeof bits);
            int skipped = 0;
            for (int s = 0; s < nskip; s++) skipped |= skip[s] == c + i;
            if ((bits & 0x7fffffffu) == m && !skipped) return (int32_t)(c + i);
        }
    }
    for (; c < k; c++) {
        uint32_t bits;
        memcpy(&bits, &x[c], sizeof bits);
        int skipped = 0;
        for (int s = 0; s < nskip; s++) skipped |= skip[s] == c;
        if ((bits & 0x7fffffffu) == m && !skipped) return (int32_t)c;
    }
    return 0;
}

LCR_MULTIVERSION
static void quantize_row(const float *x, int64_t k, int8_t *q, float *scale, float limit) {
    const float m = max_abs(x, k);
    const float inv = m > 0.0f ? limit / m : 0.0f;
    *scale = m / limit;
    // |x · inv| ≤ limit (up to rounding), so the conversion needs no clamp.
    for (int64_t c = 0; c < k; c++) q[c] = (int8_t)(int32_t)__builtin_rintf(x[c] * inv);
}

// A row's `LCR_INT8_OUTLIERS` largest-magnitude entries are taken out (their indices ascending,
// their values kept in fp32), and the rest quantised against the largest that remains: BERT's
// activations carry a few channels tens of times larger than the others (m3e-small: up to 35
// against a median of 2), and a scale set by them leaves the other channels a handful of levels.
LCR_MULTIVERSION
static void quantize_row_outliers(const float *x, int64_t k, int8_t *q, float *scale, int32_t *index,
                                  float *value, float limit) {
    int32_t skip[LCR_INT8_OUTLIERS];
    const int taken = k < LCR_INT8_OUTLIERS ? (int)k : LCR_INT8_OUTLIERS;
    for (int t = 0; t < taken; t++) {
        const int32_t j = index_of_abs_bits(x, k, skip, t, max_abs_bits_skipping(x, k, skip, t));
        int s = t;   // insert j, keeping skip ascending
        while (s > 0 && skip[s - 1] > j) { skip[s] = skip[s - 1]; s--; }
        skip[s] = j;
    }
    uint32_t mbits = max_abs_bits_skipping(x, k, skip, taken);
    float m;
    memcpy(&m, &mbits, sizeof m);
    const float inv = m > 0.0f ? limit / m : 0.0f;
    *scale = m / limit;
    // The outliers are above m: the clamp keeps their (discarded) conversions in range.
    for (int64_t c = 0; c < k; c++) {
        float v = __builtin_rintf(x[c] * inv);
        v = v > limit ? limit : v;
        v = v < -limit ? -limit : v;
        q[c] = (int8_t)(int32_t)v;
    }
    for (int t = 0; t < LCR_INT8_OUTLIERS; t++) {
        if (t < taken) {
            q[skip[t]] = 0;
            index[t] = skip[t];
            value[t] = x[skip[t]];
        } else {   // a row shorter than the outlier count: the missing ones add nothing
            index[t] = 0;
            value[t] = 0.0f;
        }
    }
}

typedef struct {
    const float *x;
    int64_t k;
    int8_t *q;
    float *scales;
    int32_t *outlier_index;   // [rows · LCR_INT8_OUTLIERS], or NULL: no outliers taken out
    float *outlier_value;
    float limit;
} quantize_job;

static void quantize_share(void *context, int64_t begin, int64_t end) {
    quantize_job *j = context;
    for (int64_t r = begin; r < end; r++) {
        if (j->outlier_index)
            quantize_row_outliers(j->x + r * j->k, j->k, j->q + r * j->k, &j->scales[r],
                                  j->outlier_index + r * LCR_INT8_OUTLIERS, j->outlier_value + r * LCR_INT8_OUTLIERS, j->limit);
        else
            quantize_row(j->x + r * j->k, j->k, j->q + r * j->k, &j->scales[r], j->limit);
    }
}

void lcr_quantize_rows_s8(const float *x, int64_t rows, int64_t k, int8_t *q, float *scales,
                          int32_t *outlier_index, float *outlier_value) {
    quantize_job job = {x, k, q, scales, outlier_index, outlier_value, 127.0f};
    const int64_t min_rows = k > 0 ? ((1 << 16) + k - 1) / k : rows;
    lcr_parallel_for(rows, min_rows, quantize_share, &job);
}

void lcr_quantize_weights_s8(const float *w, int64_t n, int64_t k, int8_t *q, float *scales, int limit) {
    quantize_job job = {w, k, q, scales, NULL, NULL, (float)limit};
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

// One output row: y · row scale, plus the outliers' share (each outlier's fp32 value times its
// weights' int8 column, times the output channel's weight scale), plus bias, then GELU. The
// flags are constants at each call below, so each combination compiles to its own branch-free loop.
static inline __attribute__((always_inline))
void dequantize_row_as(float *y, int64_t n, float scale, const float *bias, int gelu, const float *weight_scales,
                       const int8_t *w0, const int8_t *w1, float v0, float v1) {
    for (int64_t c = 0; c < n; c++) {
        float v = y[c] * scale;
        if (weight_scales) v += weight_scales[c] * (v0 * (float)w0[c] + v1 * (float)w1[c]);
        if (bias) v += bias[c];
        y[c] = gelu ? gelu_erf(v) : v;
    }
}

LCR_MULTIVERSION
static void dequantize_row(float *y, int64_t n, float scale, const float *bias, int gelu,
                           const lcr_int8_outliers *o, const int32_t *index, const float *value) {
    if (o) {
        const int8_t *w0 = o->weights_t + (int64_t)index[0] * n, *w1 = o->weights_t + (int64_t)index[1] * n;
        const float *ws = o->weight_scales;
        if (gelu) {
            if (bias) dequantize_row_as(y, n, scale, bias, 1, ws, w0, w1, value[0], value[1]);
            else dequantize_row_as(y, n, scale, NULL, 1, ws, w0, w1, value[0], value[1]);
        } else {
            if (bias) dequantize_row_as(y, n, scale, bias, 0, ws, w0, w1, value[0], value[1]);
            else dequantize_row_as(y, n, scale, NULL, 0, ws, w0, w1, value[0], value[1]);
        }
    } else if (gelu) {
        if (bias) dequantize_row_as(y, n, scale, bias, 1, NULL, NULL, NULL, 0, 0);
        else dequantize_row_as(y, n, scale, NULL, 1, NULL, NULL, NULL, 0, 0);
    } else {
        if (bias) dequantize_row_as(y, n, scale, bias, 0, NULL, NULL, NULL, 0, 0);
        else dequantize_row_as(y, n, scale, NULL, 0, NULL, NULL, NULL, 0, 0);
    }
}

typedef struct {
    float *y;
    int64_t n;
    const float *row_scales, *bias;
    int gelu;
    const lcr_int8_outliers *outliers;
    const int32_t *outlier_index;
    const float *outlier_value;
} dequantize_job;

static void dequantize_share(void *context, int64_t begin, int64_t end) {
    dequantize_job *j = context;
    for (int64_t r = begin; r < end; r++)
        dequantize_row(j->y + r * j->n, j->n, j->row_scales[r], j->bias, j->gelu, j->outliers,
                       j->outlier_index ? j->outlier_index + r * LCR_INT8_OUTLIERS : NULL,
                       j->outlier_value ? j->outlier_value + r * LCR_INT8_OUTLIERS : NULL);
}

void lcr_dequantize_rows(float *y, int64_t rows, int64_t n, const float *row_scales, const float *bias, int gelu,
                         const lcr_int8_outliers *outliers, const int32_t *outlier_index, const float *outlier_value) {
    dequantize_job job = {y, n, row_scales, bias, gelu, outliers, outlier_index, outlier_value};
    const int64_t min_rows = n > 0 ? ((1 << 16) + n - 1) / n : rows;
    lcr_parallel_for(rows, min_rows, dequantize_share, &job);
}
