// GELU (erf form) forward and backward for training, on oneDNN's eltwise primitives: vectorised
// and split over the cores by oneDNN itself. A plain erff/expf loop was the largest item of a
// stage-2 profile after the matrix products. oneDNN's primitive cache keeps the primitive of
// each element count, so repeated shapes are not compiled again.
#include "CKernels.h"
#include "dnnl_context.h"
#include <stdio.h>

static int gelu(int backward, float *out, const float *x, const float *dy, int64_t count, char *err, size_t err_len) {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_desc_t forward_pd = NULL, backward_pd = NULL;
    dnnl_primitive_t primitive = NULL;
    dnnl_memory_t src = NULL, dst = NULL, diff_dst = NULL;
    int status = 1;
    if (count <= 0) return 0;
    if (lcr_dnnl_context(&engine, &stream, err, err_len)) return 1;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {count};
    LCR_CHECK(dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_f32, dnnl_a), "GELU memory descriptor");
    dnnl_eltwise_desc_t forward;
    LCR_CHECK(dnnl_eltwise_forward_desc_init(&forward, dnnl_forward_training, dnnl_eltwise_gelu_erf, &md, 0.0f, 0.0f),
              "GELU forward descriptor");
    LCR_CHECK(dnnl_primitive_desc_create(&forward_pd, &forward, NULL, engine, NULL), "GELU forward primitive descriptor");
    LCR_CHECK(dnnl_memory_create(&src, &md, engine, (void *)x), "GELU source memory");
    LCR_CHECK(dnnl_memory_create(&dst, &md, engine, out), "GELU destination memory");
    if (!backward) {
        LCR_CHECK(dnnl_primitive_create(&primitive, forward_pd), "GELU forward primitive");
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
        LCR_CHECK(dnnl_primitive_execute(primitive, stream, 2, args), "GELU forward");
    } else {
        dnnl_eltwise_desc_t desc;
        LCR_CHECK(dnnl_eltwise_backward_desc_init(&desc, dnnl_eltwise_gelu_erf, &md, &md, 0.0f, 0.0f),
                  "GELU backward descriptor");
        LCR_CHECK(dnnl_primitive_desc_create(&backward_pd, &desc, NULL, engine, forward_pd),
                  "GELU backward primitive descriptor");
        LCR_CHECK(dnnl_primitive_create(&primitive, backward_pd), "GELU backward primitive");
        LCR_CHECK(dnnl_memory_create(&diff_dst, &md, engine, (void *)dy), "GELU gradient memory");
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_SRC, dst}};
        LCR_CHECK(dnnl_primitive_execute(primitive, stream, 3, args), "GELU backward");
    }
    LCR_CHECK(dnnl_stream_wait(stream), "GELU stream wait");
    status = 0;
fail:
    if (primitive) dnnl_primitive_destroy(primitive);
    if (forward_pd) dnnl_primitive_desc_destroy(forward_pd);
    if (backward_pd) dnnl_primitive_desc_destroy(backward_pd);
    if (src) dnnl_memory_destroy(src);
    if (dst) dnnl_memory_destroy(dst);
    if (diff_dst) dnnl_memory_destroy(diff_dst);
    return status;
}

int lcr_gelu_erf_forward(float *y, const float *x, int64_t count, char *err, size_t err_len) {
    return gelu(0, y, x, NULL, count, err, err_len);
}

int lcr_gelu_erf_backward(float *dx, const float *dy, const float *x, int64_t count, char *err, size_t err_len) {
    return gelu(1, dx, x, dy, count, err, err_len);
}
