// The elementwise work around an int8 product: activations quantised per row before it (u8 with a
// zero point), and the result rescaled per row (plus the zero point's and the outliers' shares,
// bias and GELU) after it. oneDNN 2.6 runs int8 products
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

// Weights: symmetric, against the row's largest |w| (a row of an output channel).
LCR_MULTIVERSION
static void quantize_row_s8(const float *x, int64_t k, int8_t *q, float *scale) {
    const float m = max_abs(x, k);
    const float inv = m > 0.0f ? 127.0f / m : 0.0f;
    *scale = m / 127.0f;
    // |x · inv| ≤ 127 (up to rounding), so the conversion needs no clamp.
    for (int64_t c = 0; c < k; c++) q[c] = (int8_t)(int32_t)__builtin_rintf(x[c] * inv);
}

// The largest positive x and the largest magnitude among negative x over x[0..k), as float bits
// folded into *positive and *negative: for non-NaN floats the bits of |x| order as |x| does, and
// each is a max over masked bits (x's sign spread by an arithmetic shift picks which), the form
// clang vectorises (a float min/max, NaN rules, or a min over integer keys stayed scalar, 3x slower).
static inline void sign_maxima_bits(const float *x, int64_t k, uint32_t *positive, uint32_t *negative) {
    uint32_t p = *positive, n = *negative;
    for (int64_t c = 0; c < k; c++) {
        int32_t bits;
        memcpy(&bits, &x[c], sizeof bits);
        const uint32_t sign = (uint32_t)(bits >> 31);   // all ones for a negative x
        const uint32_t up = (uint32_t)bits & ~sign, down = (uint32_t)bits & sign & 0x7fffffffu;
        p = up > p ? up : p;
        n = down > n ? down : n;
    }
    *positive = p;
    *negative = n;
}

// The smallest and largest x over x[0..k) leaving out the `nskip` indices of `skip` (ascending),
// with 0 included.
static inline void range_skipping(const float *x, int64_t k, const int32_t *skip, int nskip, float *low, float *high) {
    uint32_t positive = 0, negative = 0;
    int64_t begin = 0;
    for (int s = 0; s <= nskip; s++) {
        const int64_t end = s < nskip ? skip[s] : k;
        sign_maxima_bits(x + begin, end - begin, &positive, &negative);
        begin = end + 1;
    }
    float magnitude;
    memcpy(high, &positive, sizeof *high);
    memcpy(&magnitude, &negative, sizeof magnitude);
    *low = -magnitude;
}

// Activations. A row's `LCR_INT8_OUTLIERS` largest-magnitude entries are taken out (their indices
// ascending, their values kept in fp32), and the rest quantised over their own range: BERT's
// activations carry a few channels tens of times larger than the others (m3e-small: up to 35
// against a median of 2), and a range set by them leaves the other channels a handful of levels.
// The range is asymmetric (u8 with a zero point): after GELU a row's entries lie in [−0.17, max],
// where a symmetric range would waste half its levels. The zero point is an integer, so 0 and the
// outliers' slots (set to it) are exact.
LCR_MULTIVERSION
static void quantize_row_u8(const float *x, int64_t k, uint8_t *q, float *scale, float *offset, int32_t *index,
                            float *value, float levels) {
    int32_t skip[LCR_INT8_OUTLIERS];
    const int taken = k < LCR_INT8_OUTLIERS ? (int)k : LCR_INT8_OUTLIERS;
    for (int t = 0; t < taken; t++) {
        const int32_t j = index_of_abs_bits(x, k, skip, t, max_abs_bits_skipping(x, k, skip, t));
        int s = t;   // insert j, keeping skip ascending
        while (s > 0 && skip[s - 1] > j) { skip[s] = skip[s - 1]; s--; }
        skip[s] = j;
    }
    float low, high;
    range_skipping(x, k, skip, taken, &low, &high);
    const float step = (high - low) / levels;
    const float inv = step > 0.0f ? 1.0f / step : 0.0f;
    float zero = __builtin_rintf(-low * inv);
    zero = zero > levels ? levels : zero;
    *scale = step;
    *offset = step * zero;
    // The clamp keeps rounding at the range's ends, and the outliers' (discarded) conversions, in range.
    for (int64_t c = 0; c < k; c++) {
        float v = __builtin_rintf(x[c] * inv) + zero;
        v = v > levels ? levels : v;
        v = v < 0.0f ? 0.0f : v;
        q[c] = (uint8_t)(int32_t)v;
    }
    for (int t = 0; t < LCR_INT8_OUTLIERS; t++) {
        if (t < taken) {
            q[skip[t]] = (uint8_t)(int32_t)zero;
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
    uint8_t *q;
    float *scales, *offsets;
    int32_t *outlier_index;   // [rows · LCR_INT8_OUTLIERS]
    float *outlier_value;
    float levels;
} quantize_rows_job;

static void quantize_rows_share(void *context, int64_t begin, int64_t end) {
    quantize_rows_job *j = context;
    for (int64_t r = begin; r < end; r++)
        quantize_row_u8(j->x + r * j->k, j->k, j->q + r * j->k, &j->scales[r], &j->offsets[r],
                        j->outlier_index + r * LCR_INT8_OUTLIERS, j->outlier_value + r * LCR_INT8_OUTLIERS, j->levels);
}

void lcr_quantize_rows_u8(const float *x, int64_t rows, int64_t k, int levels, uint8_t *q, float *scales,
                          float *offsets, int32_t *outlier_index, float *outlier_value) {
    quantize_rows_job job = {x, k, q, scales, offsets, outlier_index, outlier_value, (float)levels};
    const int64_t min_rows = k > 0 ? ((1 << 16) + k - 1) / k : rows;
    lcr_parallel_for(rows, min_rows, quantize_rows_share, &job);
}

typedef struct {
    const float *w;
    int64_t k;
    int8_t *q;
    float *scales;
} quantize_weights_job;

static void quantize_weights_share(void *context, int64_t begin, int64_t end) {
    quantize_weights_job *j = context;
    for (int64_t r = begin; r < end; r++) quantize_row_s8(j->w + r * j->k, j->k, j->q + r * j->k, &j->scales[r]);
}

void lcr_quantize_weights_s8(const float *w, int64_t n, int64_t k, int8_t *q, float *scales) {
    quantize_weights_job job = {w, k, q, scales};
    lcr_parallel_for(n, 16, quantize_weights_share, &job);
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

// One output row: y · row scale, less the zero point's share (row offset times the channel's
// weight sum), plus the outliers' share (each outlier's fp32 value times its weights' int8 column,
// times the output channel's weight scale), plus bias, then GELU. The flags are constants at each
// call below, so each combination compiles to its own branch-free loop.
static inline __attribute__((always_inline))
void dequantize_row_as(float *y, int64_t n, float scale, float offset, const float *bias, int gelu,
                       const lcr_int8_weights *w, const int8_t *w0, const int8_t *w1, float v0, float v1) {
    const float *ws = w->weight_scales, *sums = w->weight_sums;
    for (int64_t c = 0; c < n; c++) {
        float v = y[c] * scale - offset * sums[c];
        v += ws[c] * (v0 * (float)w0[c] + v1 * (float)w1[c]);
        if (bias) v += bias[c];
        y[c] = gelu ? gelu_erf(v) : v;
    }
}

LCR_MULTIVERSION
static void dequantize_row(float *y, int64_t n, float scale, float offset, const float *bias, int gelu,
                           const lcr_int8_weights *w, const int32_t *index, const float *value) {
    const int8_t *w0 = w->weights_t + (int64_t)index[0] * n, *w1 = w->weights_t + (int64_t)index[1] * n;
    if (gelu) {
        if (bias) dequantize_row_as(y, n, scale, offset, bias, 1, w, w0, w1, value[0], value[1]);
        else dequantize_row_as(y, n, scale, offset, NULL, 1, w, w0, w1, value[0], value[1]);
    } else {
        if (bias) dequantize_row_as(y, n, scale, offset, bias, 0, w, w0, w1, value[0], value[1]);
        else dequantize_row_as(y, n, scale, offset, NULL, 0, w, w0, w1, value[0], value[1]);
    }
}

typedef struct {
    float *y;
    int64_t n;
    const float *row_scales, *row_offsets, *bias;
    int gelu;
    const lcr_int8_weights *weights;
    const int32_t *outlier_index;
    const float *outlier_value;
} dequantize_job;

static void dequantize_share(void *context, int64_t begin, int64_t end) {
    dequantize_job *j = context;
    for (int64_t r = begin; r < end; r++)
        dequantize_row(j->y + r * j->n, j->n, j->row_scales[r], j->row_offsets[r], j->bias, j->gelu, j->weights,
                       j->outlier_index + r * LCR_INT8_OUTLIERS, j->outlier_value + r * LCR_INT8_OUTLIERS);
}

void lcr_dequantize_rows(float *y, int64_t rows, int64_t n, const float *row_scales, const float *row_offsets,
                         const float *bias, int gelu, const lcr_int8_weights *weights,
                         const int32_t *outlier_index, const float *outlier_value) {
    dequantize_job job = {y, n, row_scales, row_offsets, bias, gelu, weights, outlier_index, outlier_value};
    const int64_t min_rows = n > 0 ? ((1 << 16) + n - 1) / n : rows;
    lcr_parallel_for(rows, min_rows, dequantize_share, &job);
}
