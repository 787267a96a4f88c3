// The training attention's row softmax, vectorised: libm's expf is a call per element and
// was the attention forward's largest cost after its products (issue 15's m3e-small profile).
#include "CKernels.h"
#include "multiversion.h"
#include <math.h>
#include <string.h>

// e^x for x ≤ 0 (softmax's argument once the row maximum is subtracted): x = n·ln 2 + r with
// |r| ≤ ½ ln 2, e^r by Cephes' expf polynomial, 2^n put into the exponent bits. Arguments below
// −87.34 (e^x under the smallest normal float) are clamped there: a probability of ~1e-38
// instead of a smaller one or 0, on a row whose largest element is 1.
static inline float exp_nonpositive(float x) {
    x = x < -87.336544f ? -87.336544f : x;
    const float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;          // ln 2 in two parts, for an exact first step
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

LCR_MULTIVERSION
void lcr_softmax_scaled_row(float *row, int64_t count, float scale) {
    if (count <= 0) return;
    float maximum = -INFINITY;
    for (int64_t j = 0; j < count; j++) {
        row[j] *= scale;
        maximum = row[j] > maximum ? row[j] : maximum;
    }
    for (int64_t j = 0; j < count; j++) row[j] = exp_nonpositive(row[j] - maximum);
    float sum = 0.0f;
    {
#pragma clang fp reassociate(on)
        for (int64_t j = 0; j < count; j++) sum += row[j];
    }
    const float inverse = 1.0f / sum;
    for (int64_t j = 0; j < count; j++) row[j] *= inverse;
}
