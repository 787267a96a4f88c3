// Internal: the elementwise halves of an int8 product (see int8_rows.c).
#ifndef LISTCONRANKER_INT8_ROWS_H
#define LISTCONRANKER_INT8_ROWS_H
#include <stdint.h>

/// How many of each activation row's largest-magnitude entries an int8 product takes out of the
/// int8 product and adds in fp32 (lcr_dequantize_rows). The kernels are written for two.
#define LCR_INT8_OUTLIERS 2

/// Quantises each row of x[rows,k] to u8 with a zero point per row (asymmetric): with
/// m⁻ = min(0, min x[r,:]) and m⁺ = max(0, max x[r,:]), scale[r] = (m⁺ − m⁻) / levels, an integer
/// zero point z = round(−m⁻ / scale[r]) (so 0 is exact), q[r,c] = clamp(round(x[r,c] / scale[r])
/// + z, 0, levels) and offset[r] = scale[r] · z: x ≈ scale · q − offset. `levels` is 255, or 127
/// where the CPU's int8 multiply would saturate (see linear.c). Each row's LCR_INT8_OUTLIERS
/// largest |x| are first taken out: their indices (ascending) and fp32 values go to
/// `outlier_index` and `outlier_value` (each [rows · LCR_INT8_OUTLIERS]), their q is z, and the
/// range is that of the remaining entries. A row of zeros has scale and offset 0. Split over the cores.
void lcr_quantize_rows_u8(const float *x, int64_t rows, int64_t k, int levels, uint8_t *q, float *scales,
                          float *offsets, int32_t *outlier_index, float *outlier_value);

/// What the rescale needs from the quantised weights: a copy by input channel, [k, n] (for a
/// row's outliers), each output channel's weight scale [n], and each output channel's sum of
/// its dequantised weights, scale[j] · Σ_c q[j,c] [n] (for the activations' zero points).
typedef struct {
    const int8_t *weights_t;
    const float *weight_scales;
    const float *weight_sums;
} lcr_int8_weights;

/// Per output channel: scale[j] = max|w[j,:]| / 127 and q[j,c] = round(w[j,c] / scale[j]), for
/// w[n,k] in PyTorch's layout (one row per output channel).
void lcr_quantize_weights_s8(const float *w, int64_t n, int64_t k, int8_t *q, float *scales);

/// y[r,j] = y[r,j] · row_scale[r] − row_offset[r] · weight_sums[j] (the zero point's share)
/// + Σ_t value[r,t] · weight_scales[j] · weights_t[index[r,t], j] (the outliers' share)
/// + bias[j] (bias may be NULL), then GELU (erf form) when `gelu`: the dequantisation of an int8
/// product whose output already carries the weights' per-channel scales. Split over the cores.
void lcr_dequantize_rows(float *y, int64_t rows, int64_t n, const float *row_scales, const float *row_offsets,
                         const float *bias, int gelu, const lcr_int8_weights *weights,
                         const int32_t *outlier_index, const float *outlier_value);
#endif
