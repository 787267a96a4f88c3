// Internal: the elementwise halves of an int8 product (see int8_rows.c).
#ifndef LISTCONRANKER_INT8_ROWS_H
#define LISTCONRANKER_INT8_ROWS_H
#include <stdint.h>

/// How many of each activation row's largest-magnitude entries an int8 product takes out of the
/// int8 product and adds in fp32 (lcr_dequantize_rows). The kernels are written for two.
#define LCR_INT8_OUTLIERS 2

/// Quantises each row of x[rows,k] symmetrically to int8. With `outlier_index` (and
/// `outlier_value`, each [rows · LCR_INT8_OUTLIERS]) non-NULL, each row's LCR_INT8_OUTLIERS
/// largest |x| are first taken out: their indices (ascending) and fp32 values are written there
/// and their q is 0; the scale is then that of the largest remaining entry. scale[r] = m / 127,
/// q[r,c] = round(x[r,c] / scale[r]) (m = 0 gives scale 0). Split over the cores.
void lcr_quantize_rows_s8(const float *x, int64_t rows, int64_t k, int8_t *q, float *scales,
                          int32_t *outlier_index, float *outlier_value);

/// What the rescale needs to add a row's outliers back: the quantised weights transposed,
/// [k, n] (input channel by input channel), and each output channel's weight scale [n].
typedef struct {
    const int8_t *weights_t;
    const float *weight_scales;
} lcr_int8_outliers;

/// Per output channel: scale[j] = max|w[j,:]| / limit and q[j,c] = round(w[j,c] / scale[j]), for
/// w[n,k] in PyTorch's layout (one row per output channel); `limit` is 127, or 63 where the
/// CPU's int8 instructions could saturate (see linear.c).
void lcr_quantize_weights_s8(const float *w, int64_t n, int64_t k, int8_t *q, float *scales, int limit);

/// y[r,j] = y[r,j] · row_scale[r] + Σ_t value[r,t] · weight_scales[j] · weights_t[index[r,t], j]
/// (the outliers' share; `outliers` may be NULL) + bias[j] (bias may be NULL), then GELU (erf
/// form) when `gelu`: the dequantisation of an int8 product whose output already carries the
/// weights' per-channel scales. Split over the cores.
void lcr_dequantize_rows(float *y, int64_t rows, int64_t n, const float *row_scales, const float *bias, int gelu,
                         const lcr_int8_outliers *outliers, const int32_t *outlier_index, const float *outlier_value);
#endif
