// Internal: the elementwise halves of an int8 product (see int8_rows.c).
#ifndef LISTCONRANKER_INT8_ROWS_H
#define LISTCONRANKER_INT8_ROWS_H
#include <stdint.h>

/// Quantises each row of x[rows,k] symmetrically to int8: scale[r] = max|x[r,:]| / 127,
/// q[r,c] = round(x[r,c] / scale[r]) (a row of zeros gets scale 0). Split over the cores.
void lcr_quantize_rows_s8(const float *x, int64_t rows, int64_t k, int8_t *q, float *scales);

/// Per output channel: scale[j] = max|w[j,:]| / limit and q[j,c] = round(w[j,c] / scale[j]), for
/// w[n,k] in PyTorch's layout (one row per output channel); `limit` is 127, or 63 where the
/// CPU's int8 instructions could saturate (see linear.c).
void lcr_quantize_weights_s8(const float *w, int64_t n, int64_t k, int8_t *q, float *scales, int limit);

/// y[r,j] = y[r,j] · row_scale[r] + bias[j] (bias may be NULL), then GELU (erf form) when
/// `gelu`: the dequantisation of an int8 product whose output already carries the weights'
/// per-channel scales. Split over the cores.
void lcr_dequantize_rows(float *y, int64_t rows, int64_t n, const float *row_scales, const float *bias, int gelu);
#endif
