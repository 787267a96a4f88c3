// Multi-head scaled dot-product attention for one sequence, head by head: a plain reference
// form that the tests check the oneDNN attention (attention_dnnl.c) against. The model does
// not call it.
#include "CKernelsReference.h"
#include "CKernels.h"
#include <math.h>

int lcr_attention(const float *q, int64_t ldq, const float *k, int64_t ldk,
                  const float *v, int64_t ldv, float *out, int64_t ldo,
                  int64_t t, int64_t heads, int64_t head_dim,
                  const int64_t *key_begin, const int64_t *key_end, float *scratch) {
    const float scale = 1.0f / sqrtf((float)head_dim);
    for (int64_t h = 0; h < heads; h++) {
        const int64_t col = h * head_dim;
        // scores[t,t] = scale · Q_h · K_hᵀ
        if (lcr_sgemm('N', 'T', t, t, head_dim, scale, q + col, ldq, k + col, ldk, 0.0f, scratch, t))
            return 1;
        lcr_softmax_rows(scratch, t, t, key_begin, key_end);
        // out_h[t,d] = P · V_h
        if (lcr_sgemm('N', 'N', t, head_dim, t, 1.0f, scratch, t, v + col, ldv, 0.0f, out + col, ldo))
            return 1;
    }
    return 0;
}
