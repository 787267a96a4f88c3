// GELU and softmax in their plain forms, for the tests to check the library's kernels against.
#include "CKernelsReference.h"
#include <math.h>

void lcr_gelu(float *x, int64_t count) {
    // Exact erf form, as torch.nn.functional.gelu(approximate='none'); erff is correctly
    // rounded to within 1 ulp, so the result stays within 1e-6 of the double-precision value.
    for (int64_t i = 0; i < count; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752440f));
    }
}

static void softmax_range(float *row, int64_t cols, int64_t begin, int64_t end) {
    float max = row[begin];
    for (int64_t c = begin + 1; c < end; c++) max = row[c] > max ? row[c] : max;
    float sum = 0.0f;
    for (int64_t c = begin; c < end; c++) {
        row[c] = expf(row[c] - max);
        sum += row[c];
    }
    const float inv = 1.0f / sum;
    for (int64_t c = 0; c < begin; c++) row[c] = 0.0f;
    for (int64_t c = begin; c < end; c++) row[c] *= inv;
    for (int64_t c = end; c < cols; c++) row[c] = 0.0f;
}

void lcr_softmax_rows(float *x, int64_t rows, int64_t cols, const int64_t *begin,
                      const int64_t *end) {
    for (int64_t r = 0; r < rows; r++) {
        softmax_range(x + r * cols, cols, begin ? begin[r] : 0, end ? end[r] : cols);
    }
}
