// Elementwise kernels. Each hot loop is compiled for several CPU levels and picked at load time
// (multiversion.h). Reductions allow reassociation so that they vectorise.
#include "CKernels.h"
#include "multiversion.h"
#include "parallel.h"
#include <math.h>
#include <string.h>

LCR_MULTIVERSION
void lcr_relu(float *x, int64_t count) {
    for (int64_t i = 0; i < count; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void lcr_sigmoid(float *x, int64_t count) {
    for (int64_t i = 0; i < count; i++) x[i] = 1.0f / (1.0f + expf(-x[i]));
}

LCR_MULTIVERSION
static void add_rows(float *x, const float *y, int64_t count) {
    for (int64_t i = 0; i < count; i++) x[i] += y[i];
}

LCR_MULTIVERSION
static void layer_norm_rows(float *x, const float *residual, const float *gamma, const float *beta,
                            int64_t first, int64_t end, int64_t cols, float eps, uint16_t *bf16_out) {
    for (int64_t r = first; r < end; r++) {
        float *row = x + r * cols;
        if (residual) {
            const float *res = residual + r * cols;
            for (int64_t c = 0; c < cols; c++) row[c] += res[c];
        }
        // Two passes (mean, then centred variance) as PyTorch does, for accuracy.
        float sum = 0.0f, sq = 0.0f;
        {
#pragma clang fp reassociate(on)
            for (int64_t c = 0; c < cols; c++) sum += row[c];
        }
        const float mean = sum / (float)cols;
        {
#pragma clang fp reassociate(on)
            for (int64_t c = 0; c < cols; c++) {
                const float d = row[c] - mean;
                sq += d * d;
            }
        }
        const float inv = 1.0f / sqrtf(sq / (float)cols + eps);
        for (int64_t c = 0; c < cols; c++) row[c] = (row[c] - mean) * inv * gamma[c] + beta[c];
        if (bf16_out) {
            // Round to nearest even, as oneDNN's f32 → bf16 conversion does (NaN stays NaN).
            uint16_t *out = bf16_out + r * cols;
            for (int64_t c = 0; c < cols; c++) {
                uint32_t bits;
                memcpy(&bits, &row[c], sizeof bits);
                const int nan = (bits & 0x7fffffffu) > 0x7f800000u;
                out[c] = nan ? (uint16_t)((bits >> 16) | 0x40u) : (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
            }
        }
    }
}

typedef struct {
    float *x; const float *residual, *gamma, *beta;
    int64_t cols;
    float eps;
    uint16_t *bf16_out;
} layer_norm_job;

static void layer_norm_share(void *context, int64_t begin, int64_t end) {
    layer_norm_job *j = context;
    layer_norm_rows(j->x, j->residual, j->gamma, j->beta, begin, end, j->cols, j->eps, j->bf16_out);
}

void lcr_layer_norm(float *x, const float *residual, const float *gamma, const float *beta,
                    int64_t rows, int64_t cols, float eps, uint16_t *bf16_out) {
    // Large inputs are split over the cores: a 3,000 × 1,024 LayerNorm takes some
    // milliseconds, a parallel region some microseconds.
    layer_norm_job job = {x, residual, gamma, beta, cols, eps, bf16_out};
    const int64_t min_rows = cols > 0 ? ((1 << 17) + cols - 1) / cols : rows;
    lcr_parallel_for(rows, min_rows, layer_norm_share, &job);
}

int64_t lcr_masked_mean_rows(const float *x, const uint8_t *mask, int64_t rows, int64_t cols,
                             float *out) {
    memset(out, 0, (size_t)cols * sizeof(float));
    int64_t used = 0;
    for (int64_t r = 0; r < rows; r++) {
        if (!mask[r]) continue;
        add_rows(out, x + r * cols, cols);
        used++;
    }
    if (used > 0) {
        const float inv = (float)used;
        for (int64_t c = 0; c < cols; c++) out[c] /= inv;
    }
    return used;
}

