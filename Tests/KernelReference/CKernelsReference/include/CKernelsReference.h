// Plain reference kernels that only the tests use: the fused and vectorised kernels of the
// library (CKernels) are checked against them. In no product.
#ifndef LCR_CKERNELS_REFERENCE_H
#define LCR_CKERNELS_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

/// x[i] = GELU(x[i]) with the erf form: 0.5·x·(1 + erf(x/√2)).
void lcr_gelu(float *x, int64_t count);
/// Row-wise softmax of x[rows, cols] over columns [begin[r], end[r]); other columns become 0.
/// `begin`/`end` NULL mean every column. Each range must be non-empty.
void lcr_softmax_rows(float *x, int64_t rows, int64_t cols, const int64_t *begin,
                      const int64_t *end);
/// Multi-head scaled dot-product attention for one sequence of `t` rows.
/// q, k, v: [t, heads·head_dim] with row strides ldq/ldk/ldv (so a fused QKV matrix can be
/// passed as three column offsets); out: [t, heads·head_dim] with row stride ldo.
/// Row i attends to keys [key_begin[i], key_end[i]) (NULL: all t keys).
/// `scratch` must hold t·t floats. Returns 0 on success.
int lcr_attention(const float *q, int64_t ldq, const float *k, int64_t ldk,
                  const float *v, int64_t ldv, float *out, int64_t ldo,
                  int64_t t, int64_t heads, int64_t head_dim,
                  const int64_t *key_begin, const int64_t *key_end, float *scratch);

#endif
