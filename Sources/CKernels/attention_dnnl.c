// Full (unmasked) multi-head self-attention for a group of sequences, batched over
// texts × heads on three oneDNN primitives: Q·Kᵀ (scaled), a softmax along keys, and P·V.
//
// Each text's query, key and value heads are first gathered out of the fused [rows, 3·width]
// matrix into dense [text·head, L, d] blocks, L being the group's padded length (the caller
// pads by a text's own length only, so a text meets the same shapes in any group), texts
// shorter than L padded with zero rows. Why not read the heads in place through strides, as an earlier
// version did: oneDNN 2.6 runs its fast batched kernels (brgemm, AMX or AVX-512 BF16) only on
// dense blocks, and on strided views fell back to a generic gemm at about half the rate; and
// one call for many texts keeps both cores busy where one text's 16 heads did not.
//
// Padded keys' scores are set to -∞ before one softmax over the whole batch, so a text attends to
// exactly its own keys whatever its group. (A softmax per text over its own [heads, len, len]
// window, as an earlier version ran, reads strided memory, which oneDNN 2.6 runs on its
// reference kernel at about a hundredth of the JIT kernel's rate: with texts of mixed lengths it
// took 85% of a pass.)
// Primitives are cached by shape, per thread (a primitive's scratchpad must not be shared by
// concurrent executions), as are the working buffers.
#include "CKernels.h"
#include "dnnl_context.h"
#include "parallel.h"
#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LCR_ATTENTION_CACHE 64

enum { SCORES, SOFTMAX, CONTEXT };

typedef struct {
    int kind, bf16;             // kind: SCORES, SOFTMAX or CONTEXT; bf16: Q, K, V, P, context in bf16
    int64_t batch, length, head_dim;   // batch == 0: empty slot
    dnnl_primitive_t primitive;
    dnnl_memory_desc_t md[3];   // source, weights (unused by SOFTMAX), destination
    uint64_t last_use;
} cached_primitive;

static _Thread_local cached_primitive cache[LCR_ATTENTION_CACHE];
static _Thread_local uint64_t cache_clock = 0;

// One growable thread-local block per working buffer.
typedef struct { void *data; size_t capacity; } work_buffer;
static _Thread_local work_buffer gathered, scores, probabilities, context;

static void free_at_thread_exit(void);

static void *reserve(work_buffer *b, size_t bytes) {
    if (bytes > b->capacity) {
        free_at_thread_exit();
        free(b->data);
        b->data = aligned_alloc(64, (bytes + 63) / 64 * 64);
        b->capacity = b->data ? bytes : 0;
    }
    return b->data;
}

static void release(cached_primitive *c) {
    if (c->primitive) dnnl_primitive_destroy(c->primitive);
    *c = (cached_primitive){0};
}

// A thread's buffers and primitives go with the thread: a service makes a model thread per
// engine, and LeakSanitizer found each exited thread's buffers left behind.
static pthread_key_t thread_exit_key;
static pthread_once_t thread_exit_once = PTHREAD_ONCE_INIT;
static _Thread_local int freed_at_exit;

static void free_thread_state(void *unused) {
    (void)unused;
    work_buffer *buffers[] = {&gathered, &scores, &probabilities, &context};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) {
        free(buffers[i]->data);
        *buffers[i] = (work_buffer){0};
    }
    for (int i = 0; i < LCR_ATTENTION_CACHE; i++) release(&cache[i]);
}

static void make_thread_exit_key(void) { pthread_key_create(&thread_exit_key, free_thread_state); }

// Any non-NULL value makes the key's destructor run when this thread exits.
static void free_at_thread_exit(void) {
    if (freed_at_exit) return;
    pthread_once(&thread_exit_once, make_thread_exit_key);
    if (pthread_setspecific(thread_exit_key, &freed_at_exit) == 0) freed_at_exit = 1;
}

static int dense(dnnl_memory_desc_t *md, int64_t a, int64_t b, int64_t c, dnnl_data_type_t type) {
    dnnl_dims_t dims = {a, b, c};
    return dnnl_memory_desc_init_by_tag(md, 3, dims, type, dnnl_abc) != dnnl_success;
}

// SCORES: [batch, length, d] · [batch, d, length] → f32 [batch, length, length], times 1/√d.
// SOFTMAX: along keys, f32 [batch, length, length] scores → probabilities of the same shape.
// CONTEXT: [batch, length, length] · [batch, length, d] → [batch, length, d].
static int build(cached_primitive *c, dnnl_engine_t engine, char *err, size_t err_len) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    const dnnl_data_type_t type = c->bf16 ? dnnl_bf16 : dnnl_f32;
    const int64_t n = c->batch, t = c->length, d = c->head_dim;
    if (c->kind == SCORES) {
        // Kᵀ is read from the dense [batch, t, d] keys as [batch, d, t] through strides.
        dnnl_dims_t k_dims = {n, d, t}, k_strides = {t * d, 1, d};
        if (dense(&c->md[0], n, t, d, type) || dense(&c->md[2], n, t, t, dnnl_f32)) goto invalid;
        LCR_CHECK(dnnl_memory_desc_init_by_strides(&c->md[1], 3, k_dims, type, k_strides), "key view");
        dnnl_matmul_desc_t mm;
        LCR_CHECK(dnnl_primitive_attr_create(&attr), "attribute creation");
        LCR_CHECK(dnnl_post_ops_create(&ops), "post-ops creation");
        LCR_CHECK(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_linear, 1.0f / sqrtf((float)d), 0.0f), "scale");
        LCR_CHECK(dnnl_primitive_attr_set_post_ops(attr, ops), "post-ops");
        LCR_CHECK(dnnl_matmul_desc_init(&mm, &c->md[0], &c->md[1], NULL, &c->md[2]), "Q·Kᵀ descriptor");
        LCR_CHECK(dnnl_primitive_desc_create(&pd, &mm, attr, engine, NULL), "Q·Kᵀ primitive descriptor");
    } else if (c->kind == SOFTMAX) {
        if (dense(&c->md[0], n, t, t, dnnl_f32) || dense(&c->md[2], n, t, t, type)) goto invalid;
        dnnl_softmax_v2_desc_t sm;
        LCR_CHECK(dnnl_softmax_v2_forward_desc_init(&sm, dnnl_forward_inference, dnnl_softmax_accurate, &c->md[0],
                                                    &c->md[2], 2), "softmax descriptor");
        LCR_CHECK(dnnl_primitive_desc_create(&pd, &sm, NULL, engine, NULL), "softmax primitive descriptor");
    } else {
        if (dense(&c->md[0], n, t, t, type) || dense(&c->md[1], n, t, d, type) || dense(&c->md[2], n, t, d, type))
            goto invalid;
        dnnl_matmul_desc_t mm;
        LCR_CHECK(dnnl_matmul_desc_init(&mm, &c->md[0], &c->md[1], NULL, &c->md[2]), "P·V descriptor");
        LCR_CHECK(dnnl_primitive_desc_create(&pd, &mm, NULL, engine, NULL), "P·V primitive descriptor");
    }
    free_at_thread_exit();
    LCR_CHECK(dnnl_primitive_create(&c->primitive, pd), "attention primitive");
    dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (ops) dnnl_post_ops_destroy(ops);
    return 0;
invalid:
    snprintf(err, err_len, "attention: invalid shape %lld×%lld×%lld", (long long)n, (long long)t, (long long)d);
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (ops) dnnl_post_ops_destroy(ops);
    release(c);
    return 1;
}

static cached_primitive *primitive_for(dnnl_engine_t engine, cached_primitive key, char *err, size_t err_len) {
    cached_primitive *slot = &cache[0];
    for (int i = 0; i < LCR_ATTENTION_CACHE; i++) {
        cached_primitive *c = &cache[i];
        if (c->batch == key.batch && c->kind == key.kind && c->bf16 == key.bf16 && c->length == key.length &&
            c->head_dim == key.head_dim) {
            c->last_use = ++cache_clock;
            return c;
        }
        if (c->batch == 0 || c->last_use < slot->last_use) slot = c;
    }
    if (slot->batch) release(slot);
    *slot = key;
    if (build(slot, engine, err, err_len)) return NULL;
    slot->last_use = ++cache_clock;
    return slot;
}

static int execute(cached_primitive *c, dnnl_engine_t engine, dnnl_stream_t stream, void *a, void *b, void *out,
                   char *err, size_t err_len) {
    dnnl_memory_t m[3] = {NULL, NULL, NULL};
    void *handles[3] = {a, b, out};
    const int softmax = c->kind == SOFTMAX;
    int status = 1;
    for (int i = 0; i < 3; i++) {
        if (softmax && i == 1) continue;
        LCR_CHECK(dnnl_memory_create(&m[i], &c->md[i], engine, handles[i]), "attention memory");
    }
    if (softmax) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, m[0]}, {DNNL_ARG_DST, m[2]}};
        LCR_CHECK(dnnl_primitive_execute(c->primitive, stream, 2, args), "softmax");
    } else {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, m[0]}, {DNNL_ARG_WEIGHTS, m[1]}, {DNNL_ARG_DST, m[2]}};
        LCR_CHECK(dnnl_primitive_execute(c->primitive, stream, 3, args), c->kind == SCORES ? "Q·Kᵀ" : "P·V");
    }
    status = 0;
fail:
    for (int i = 0; i < 3; i++) if (m[i]) dnnl_memory_destroy(m[i]);
    return status;
}

// Moving rows between the fused [rows, 3·width] layout and the dense per-head blocks.
typedef struct {
    const void *from;
    void *to;
    const int64_t *starts, *lengths;
    int64_t t, heads, width, d;   // width: gathering, the model width (packed rows hold 3·width);
                                  // scattering, the packed rows' stride, in elements
    size_t element, block;        // block: bytes of one [batch, t, d] block
} head_copy;

// Item i is row i % t of text i / t: its query, key and value heads go to their blocks;
// padding rows (past the text's length) become zeros.
static void gather_rows(void *context, int64_t begin, int64_t end) {
    const head_copy *c = context;
    const size_t row = (size_t)c->d * c->element;
    for (int64_t i = begin; i < end; i++) {
        const int64_t g = i / c->t, r = i % c->t;
        const char *from = (const char *)c->from + (size_t)(c->starts[g] + r) * 3 * c->width * c->element;
        for (int64_t part = 0; part < 3; part++) {
            for (int64_t h = 0; h < c->heads; h++) {
                char *to = (char *)c->to + part * c->block + ((size_t)(g * c->heads + h) * c->t + r) * row;
                if (r < c->lengths[g]) memcpy(to, from + (part * c->width + h * c->d) * c->element, row);
                else memset(to, 0, row);
            }
        }
    }
}

// Item i is row i % t of text i / t: its heads' context goes back to its packed row.
static void scatter_rows(void *context, int64_t begin, int64_t end) {
    const head_copy *c = context;
    const size_t row = (size_t)c->d * c->element;
    for (int64_t i = begin; i < end; i++) {
        const int64_t g = i / c->t, r = i % c->t;
        if (r >= c->lengths[g]) continue;
        char *to = (char *)c->to + (size_t)(c->starts[g] + r) * c->width * c->element;
        for (int64_t h = 0; h < c->heads; h++) {
            memcpy(to + h * row, (const char *)c->from + ((size_t)(g * c->heads + h) * c->t + r) * row, row);
        }
    }
}

// Scores of padded keys, for the softmax to give them probability zero.
typedef struct {
    float *score;                 // [texts · heads, t, t]
    const int64_t *lengths;
    int64_t heads, t;
} masked_keys;

// Item i is score row i % t of head i / t: its columns past its text's length become -∞. Rows
// of padded queries are left as they are: their probabilities are finite, and their context
// rows are never copied out.
static void mask_padded_keys(void *context, int64_t begin, int64_t end) {
    const masked_keys *m = context;
    for (int64_t i = begin; i < end; i++) {
        const int64_t length = m->lengths[i / m->t / m->heads];
        float *row = m->score + (size_t)i * m->t;
        for (int64_t column = length; column < m->t; column++) row[column] = -INFINITY;
    }
}

int lcr_attention_group(const void *qkv, int bf16, int64_t width, int64_t heads, const int64_t *starts,
                        const int64_t *lengths, int64_t count, int64_t padded_length, void *out, int64_t ldo,
                        char *err, size_t err_len) {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    if (count <= 0) return 0;
    if (heads <= 0 || width % heads != 0) {
        snprintf(err, err_len, "attention: width %lld is not a multiple of %lld heads", (long long)width, (long long)heads);
        return 1;
    }
    const int64_t d = width / heads, batch = count * heads;
    const size_t element = bf16 ? 2 : 4, row = (size_t)d * element;
    const int64_t t = padded_length;
    int all_full = 1;
    for (int64_t g = 0; g < count; g++) {
        if (lengths[g] <= 0 || lengths[g] > t) {
            snprintf(err, err_len, "attention: a sequence of %lld rows in a group padded to %lld",
                     (long long)lengths[g], (long long)t);
            return 1;
        }
        all_full &= lengths[g] == t;
    }
    if (lcr_dnnl_context(&engine, &stream, err, err_len)) return 1;

    // [3][batch][t][d]: every head of every text as a dense block, padding rows zero.
    const size_t block = (size_t)batch * t * row, square = (size_t)batch * t * t;
    char *qkv_heads = reserve(&gathered, 3 * block);
    float *score = reserve(&scores, square * sizeof(float));
    char *probability = bf16 ? reserve(&probabilities, square * 2) : (char *)score;   // f32: in place
    char *ctx = reserve(&context, block);
    if (!qkv_heads || !score || !probability || !ctx) {
        snprintf(err, err_len, "attention: out of memory for %lld heads of %lld tokens", (long long)batch, (long long)t);
        return 1;
    }
    head_copy copy = {qkv, qkv_heads, starts, lengths, t, heads, width, d, element, block};
    lcr_parallel_for(count * t, 64, gather_rows, &copy);

    cached_primitive key = {.kind = SCORES, .bf16 = bf16, .batch = batch, .length = t, .head_dim = d};
    cached_primitive *c = primitive_for(engine, key, err, err_len);
    if (!c || execute(c, engine, stream, qkv_heads, qkv_heads + block, score, err, err_len)) return 1;
    if (!all_full) {
        LCR_CHECK(dnnl_stream_wait(stream), "stream wait");
        masked_keys mask = {score, lengths, heads, t};
        lcr_parallel_for(batch * t, 256, mask_padded_keys, &mask);
    }
    // One softmax over the whole batch: a dense one runs on oneDNN's JIT kernel.
    key = (cached_primitive){.kind = SOFTMAX, .bf16 = bf16, .batch = batch, .length = t};
    c = primitive_for(engine, key, err, err_len);
    if (!c || execute(c, engine, stream, score, NULL, probability, err, err_len)) return 1;
    key = (cached_primitive){.kind = CONTEXT, .bf16 = bf16, .batch = batch, .length = t, .head_dim = d};
    c = primitive_for(engine, key, err, err_len);
    if (!c || execute(c, engine, stream, probability, qkv_heads + 2 * block, ctx, err, err_len)) return 1;
    LCR_CHECK(dnnl_stream_wait(stream), "stream wait");

    copy = (head_copy){ctx, out, starts, lengths, t, heads, ldo, d, element, block};
    lcr_parallel_for(count * t, 64, scatter_rows, &copy);
    return 0;
fail:
    return 1;
}
