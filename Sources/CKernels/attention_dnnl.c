// Full (unmasked) multi-head self-attention for one sequence as three oneDNN primitives:
// a batched matmul over heads for Q·Kᵀ (scaled), a softmax along keys, and a batched matmul
// for P·V. The heads are read straight out of a fused [t, 3·width] QKV matrix through
// strides, and the context is written straight into its [t, width] place, so nothing is
// copied. Primitives are cached per sequence length (per thread: a primitive's scratchpad
// must not be shared by concurrent executions).
#include "CKernels.h"
#include "dnnl_context.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define LCR_ATTENTION_CACHE 64

typedef struct {
    int64_t t, heads, width, ldo;   // t == 0: empty slot
    int bf16;                       // Q, K, V, probabilities and context in bf16
    dnnl_primitive_t scores, softmax, context;
    dnnl_memory_desc_t q_md, k_md, v_md, s_md, p_md, o_md;
    uint64_t last_use;
} attention_plan;

static _Thread_local attention_plan plans[LCR_ATTENTION_CACHE];
static _Thread_local uint64_t plan_clock = 0;
static _Thread_local float *score_buffer = NULL;
static _Thread_local int64_t score_capacity = 0;
static _Thread_local uint16_t *probability_buffer = NULL;   // bf16 plans only
static _Thread_local int64_t probability_capacity = 0;

static void destroy_plan(attention_plan *p) {
    if (p->scores) dnnl_primitive_destroy(p->scores);
    if (p->softmax) dnnl_primitive_destroy(p->softmax);
    if (p->context) dnnl_primitive_destroy(p->context);
    *p = (attention_plan){0};
}

static int build_plan(attention_plan *p, dnnl_engine_t engine, int64_t t, int64_t heads, int64_t width,
                      int64_t ldo, int bf16, char *err, size_t err_len) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    const int64_t d = width / heads, ld = 3 * width;
    const dnnl_data_type_t type = bf16 ? dnnl_bf16 : dnnl_f32;
    *p = (attention_plan){.t = t, .heads = heads, .width = width, .ldo = ldo, .bf16 = bf16};
    // Q, K, V as [heads, t, d] views of the fused rows; Kᵀ as [heads, d, t].
    dnnl_dims_t q_dims = {heads, t, d}, q_strides = {d, ld, 1};
    dnnl_dims_t k_dims = {heads, d, t}, k_strides = {d, 1, ld};
    dnnl_dims_t s_dims = {heads, t, t}, s_strides = {t * t, t, 1};
    dnnl_dims_t o_strides = {d, ldo, 1};
    LCR_CHECK(dnnl_memory_desc_init_by_strides(&p->q_md, 3, q_dims, type, q_strides), "query view");
    LCR_CHECK(dnnl_memory_desc_init_by_strides(&p->k_md, 3, k_dims, type, k_strides), "key view");
    LCR_CHECK(dnnl_memory_desc_init_by_strides(&p->v_md, 3, q_dims, type, q_strides), "value view");
    LCR_CHECK(dnnl_memory_desc_init_by_strides(&p->s_md, 3, s_dims, dnnl_f32, s_strides), "scores");
    LCR_CHECK(dnnl_memory_desc_init_by_strides(&p->p_md, 3, s_dims, type, s_strides), "probabilities");
    LCR_CHECK(dnnl_memory_desc_init_by_strides(&p->o_md, 3, q_dims, type, o_strides), "context view");

    dnnl_matmul_desc_t mm;
    LCR_CHECK(dnnl_primitive_attr_create(&attr), "attribute creation");
    LCR_CHECK(dnnl_post_ops_create(&ops), "post-ops creation");
    LCR_CHECK(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_linear, 1.0f / sqrtf((float)d), 0.0f), "scale");
    LCR_CHECK(dnnl_primitive_attr_set_post_ops(attr, ops), "post-ops");
    LCR_CHECK(dnnl_matmul_desc_init(&mm, &p->q_md, &p->k_md, NULL, &p->s_md), "Q·Kᵀ descriptor");
    LCR_CHECK(dnnl_primitive_desc_create(&pd, &mm, attr, engine, NULL), "Q·Kᵀ primitive descriptor");
    LCR_CHECK(dnnl_primitive_create(&p->scores, pd), "Q·Kᵀ primitive");
    dnnl_primitive_desc_destroy(pd); pd = NULL;

    // Scores and softmax in f32; the probabilities are written in the product's type.
    dnnl_softmax_v2_desc_t sm;
    LCR_CHECK(dnnl_softmax_v2_forward_desc_init(&sm, dnnl_forward_inference, dnnl_softmax_accurate, &p->s_md,
                                                &p->p_md, 2), "softmax descriptor");
    LCR_CHECK(dnnl_primitive_desc_create(&pd, &sm, NULL, engine, NULL), "softmax primitive descriptor");
    LCR_CHECK(dnnl_primitive_create(&p->softmax, pd), "softmax primitive");
    dnnl_primitive_desc_destroy(pd); pd = NULL;

    LCR_CHECK(dnnl_matmul_desc_init(&mm, &p->p_md, &p->v_md, NULL, &p->o_md), "P·V descriptor");
    LCR_CHECK(dnnl_primitive_desc_create(&pd, &mm, NULL, engine, NULL), "P·V primitive descriptor");
    LCR_CHECK(dnnl_primitive_create(&p->context, pd), "P·V primitive");
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    dnnl_post_ops_destroy(ops);
    return 0;
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (ops) dnnl_post_ops_destroy(ops);
    destroy_plan(p);
    return 1;
}

static attention_plan *plan_for(dnnl_engine_t engine, int64_t t, int64_t heads, int64_t width, int64_t ldo,
                                int bf16, char *err, size_t err_len) {
    attention_plan *slot = &plans[0];
    for (int i = 0; i < LCR_ATTENTION_CACHE; i++) {
        attention_plan *p = &plans[i];
        if (p->t == t && p->heads == heads && p->width == width && p->ldo == ldo && p->bf16 == bf16) {
            p->last_use = ++plan_clock;
            return p;
        }
        if (p->t == 0 || p->last_use < slot->last_use) slot = p;
    }
    if (slot->t) destroy_plan(slot);
    if (build_plan(slot, engine, t, heads, width, ldo, bf16, err, err_len)) return NULL;
    slot->last_use = ++plan_clock;
    return slot;
}

int lcr_attention_fused_qkv(const void *qkv, int bf16, int64_t width, int64_t t, int64_t heads, void *out,
                            int64_t ldo, char *err, size_t err_len) {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_memory_t q = NULL, k = NULL, v = NULL, s = NULL, pr = NULL, o = NULL;
    const size_t element = bf16 ? 2 : 4;
    const char *base = qkv;
    if (t <= 0) return 0;
    if (heads <= 0 || width % heads != 0) {
        snprintf(err, err_len, "attention: width %lld is not a multiple of %lld heads", (long long)width, (long long)heads);
        return 1;
    }
    if (lcr_dnnl_context(&engine, &stream, err, err_len)) return 1;
    attention_plan *p = plan_for(engine, t, heads, width, ldo, bf16, err, err_len);
    if (!p) return 1;
    int64_t need = heads * t * t;
    if (need > score_capacity) {
        free(score_buffer);
        score_buffer = aligned_alloc(64, ((size_t)need * sizeof(float) + 63) / 64 * 64);
        score_capacity = score_buffer ? need : 0;
        if (!score_buffer) { snprintf(err, err_len, "attention: out of memory for %lld scores", (long long)need); return 1; }
    }
    void *probabilities = score_buffer;   // f32: the softmax works in place
    if (bf16) {
        if (need > probability_capacity) {
            free(probability_buffer);
            probability_buffer = aligned_alloc(64, ((size_t)need * 2 + 63) / 64 * 64);
            probability_capacity = probability_buffer ? need : 0;
            if (!probability_buffer) { snprintf(err, err_len, "attention: out of memory for %lld probabilities", (long long)need); return 1; }
        }
        probabilities = probability_buffer;
    }
    LCR_CHECK(dnnl_memory_create(&q, &p->q_md, engine, (void *)base), "query memory");
    LCR_CHECK(dnnl_memory_create(&k, &p->k_md, engine, (void *)(base + width * element)), "key memory");
    LCR_CHECK(dnnl_memory_create(&v, &p->v_md, engine, (void *)(base + 2 * width * element)), "value memory");
    LCR_CHECK(dnnl_memory_create(&s, &p->s_md, engine, score_buffer), "score memory");
    LCR_CHECK(dnnl_memory_create(&pr, &p->p_md, engine, probabilities), "probability memory");
    LCR_CHECK(dnnl_memory_create(&o, &p->o_md, engine, out), "context memory");
    dnnl_exec_arg_t qk_args[3] = {{DNNL_ARG_SRC, q}, {DNNL_ARG_WEIGHTS, k}, {DNNL_ARG_DST, s}};
    LCR_CHECK(dnnl_primitive_execute(p->scores, stream, 3, qk_args), "Q·Kᵀ");
    dnnl_exec_arg_t sm_args[2] = {{DNNL_ARG_SRC, s}, {DNNL_ARG_DST, pr}};
    LCR_CHECK(dnnl_primitive_execute(p->softmax, stream, 2, sm_args), "softmax");
    dnnl_exec_arg_t pv_args[3] = {{DNNL_ARG_SRC, pr}, {DNNL_ARG_WEIGHTS, v}, {DNNL_ARG_DST, o}};
    LCR_CHECK(dnnl_primitive_execute(p->context, stream, 3, pv_args), "P·V");
    LCR_CHECK(dnnl_stream_wait(stream), "stream wait");
    dnnl_memory_destroy(q); dnnl_memory_destroy(k); dnnl_memory_destroy(v);
    dnnl_memory_destroy(s); dnnl_memory_destroy(pr); dnnl_memory_destroy(o);
    return 0;
fail:
    if (pr) dnnl_memory_destroy(pr);
    if (q) dnnl_memory_destroy(q);
    if (k) dnnl_memory_destroy(k);
    if (v) dnnl_memory_destroy(v);
    if (s) dnnl_memory_destroy(s);
    if (o) dnnl_memory_destroy(o);
    return 1;
}
