// Prepared matrix products on oneDNN's matmul primitive. The weights are reordered once into
// the layout oneDNN prefers for this CPU; primitives are compiled per row count (fixed shapes
// run markedly faster than run-time ones) and kept in a small per-layer cache, behind which
// oneDNN's own primitive cache sits.
//
// int8 products (LCR_INT8): the weights are quantised once, per output channel (s8, symmetric),
// and their scales become the primitive's (compile-time) output scales; each run quantises the
// activations per row to u8 with a zero point (int8_rows.c), each row's two largest-magnitude
// entries taken out and kept in fp32, multiplies u8 × s8 → s32 → f32 on oneDNN, and rescales
// each output row by its activation scale, subtracting the zero point's share and adding the
// outliers', the bias and GELU in the same pass.
// oneDNN 2.6 keeps int8 on its fast kernels only without run-time scales and per-row post-ops,
// which is why the bias and GELU are not fused into the primitive here.
#include "CKernels.h"
#include "dnnl_context.h"
#include "int8_rows.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#define LCR_PRIMITIVE_CACHE 8
#define LCR_PROBE_ROWS 512   // row count used to ask oneDNN for its preferred weight layout

typedef struct {
    int64_t rows;            // 0: empty slot
    dnnl_primitive_t primitive;
    dnnl_primitive_t to_bf16;  // f32 → bf16 reorder of the input (bf16 products only)
    uint64_t last_use;
} cached_primitive;

struct lcr_linear {
    int64_t n, k;
    lcr_precision precision;
    int fuse_gelu;
    int bf16_output;
    dnnl_memory_desc_t weights_md;   // oneDNN's chosen (packed) layout
    void *weights;                   // packed weights, owned
    float *bias;                     // [n] or NULL, owned
    float *weight_scales;            // [n], int8 only: each output channel's weight scale
    float *weight_sums;              // [n], int8 only: each output channel's dequantised weights summed
    int8_t *weights_t;               // [k, n], int8 only: the quantised weights by input channel,
                                     // for the activation rows' outliers (int8_rows.h)
    cached_primitive cache[LCR_PRIMITIVE_CACHE];
    uint64_t clock;
};

// bf16 copies of the activations, one buffer per thread shared by every layer (a buffer per
// layer would hold rows × k × 2 bytes for each of a model's ~100 layers).
static _Thread_local uint16_t *x_bf16 = NULL;
static _Thread_local int64_t x_bf16_capacity = 0;
// The same for int8 activations and their row scales and offsets.
static _Thread_local uint8_t *x_u8 = NULL;
static _Thread_local int64_t x_u8_capacity = 0;
static _Thread_local float *x_row_scales = NULL;
static _Thread_local int64_t x_row_scales_capacity = 0;
static _Thread_local float *x_row_offsets = NULL;
static _Thread_local int64_t x_row_offsets_capacity = 0;
static _Thread_local int32_t *x_outlier_index = NULL;
static _Thread_local int64_t x_outlier_index_capacity = 0;
static _Thread_local float *x_outlier_value = NULL;
static _Thread_local int64_t x_outlier_value_capacity = 0;

// Grows a thread's buffer to `need` elements of `size` bytes; 0 on success.
static int reserve(void **buffer, int64_t *capacity, int64_t need, size_t size) {
    if (need <= *capacity) return 0;
    free(*buffer);
    *buffer = aligned_alloc(64, ((size_t)need * size + 63) / 64 * 64);
    *capacity = *buffer ? need : 0;
    return *buffer ? 0 : 1;
}

int lcr_cpu_runs_bf16_products(void) {
    // oneDNN's ISA values are bit sets: a CPU with AVX-512 (core) has all of its bits. Below
    // that (AVX2 only), oneDNN 2.x has no bf16 matmul kernel at all.
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
}

int lcr_cpu_has_native_bf16(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
}

// The largest quantised activation (u8 levels). Without VNNI, oneDNN multiplies int8 with
// vpmaddubsw, which adds two u8 × s8 products into an int16 and saturates: 2 · 255 · 127
// overflows, and results came out wrong (a tiny model's vector moved by 0.2 under
// ONEDNN_MAX_CPU_ISA=AVX2, when activations were s8, which oneDNN shifts to u8 up to 255).
// Activations of at most 127 keep 2 · 127 · 127 < 32768 with full 8-bit weights: on m3e-small
// that loses less than 7-bit weights with 8-bit activations (lowest cosine 0.99939 against 0.99855
// in tools/bench/int8_emulation.py). VNNI's vpdpbusd accumulates in int32 and takes the full range.
static int int8_activation_levels(void) {
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const int vnni = (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni
                     || (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
    return vnni ? 255 : 127;
}

int lcr_int8_activation_levels(void) { return int8_activation_levels(); }

// Whether this product runs faster on oneDNN's gemm than on its brgemm kernels, which oneDNN
// lists first. On AMX with oneDNN 2.6, brgemm is 1.1-1.4x slower than gemm for bf16 products
// whose reduction is longer than their output (BERT's 4096 -> 1024 feed-forward output, at 160
// to 6144 rows), and 1.1-1.3x faster for the others (tools/bench/matmul_implementations.c).
static int prefers_gemm(const lcr_linear *l) {
    return l->precision == LCR_BF16 && l->k > l->n;
}

// The primitive descriptor of oneDNN's first implementation, or of its gemm where this product
// prefers it and the CPU has one.
static int choose_implementation(const lcr_linear *l, const dnnl_matmul_desc_t *desc,
                                 dnnl_primitive_attr_t attr, dnnl_engine_t engine,
                                 dnnl_primitive_desc_t *pd, char *err, size_t err_len) {
    dnnl_primitive_desc_iterator_t it = NULL;
    *pd = NULL;
    LCR_CHECK(dnnl_primitive_desc_iterator_create(&it, desc, attr, engine, NULL), "matmul primitive descriptor");
    dnnl_primitive_desc_t first = dnnl_primitive_desc_iterator_fetch(it);
    if (!first) { snprintf(err, err_len, "oneDNN has no matmul implementation for this product"); goto fail; }
    if (prefers_gemm(l)) {
        while (dnnl_primitive_desc_iterator_next(it) == dnnl_success) {
            dnnl_primitive_desc_t candidate = dnnl_primitive_desc_iterator_fetch(it);
            const char *name = NULL;
            if (candidate && dnnl_primitive_desc_query(candidate, dnnl_query_impl_info_str, 0, &name) == dnnl_success
                && name && strncmp(name, "gemm:jit", 8) == 0) {
                dnnl_primitive_desc_destroy(first);
                first = candidate;
                break;
            }
            if (candidate) dnnl_primitive_desc_destroy(candidate);
        }
    }
    *pd = first;
    dnnl_primitive_desc_iterator_destroy(it);
    return 0;
fail:
    if (it) dnnl_primitive_desc_iterator_destroy(it);
    return 1;
}

// A matmul primitive descriptor for `rows` rows with the given weights descriptor.
static int make_pd(lcr_linear *l, int64_t rows, const dnnl_memory_desc_t *w_md,
                   dnnl_primitive_desc_t *pd, char *err, size_t err_len) {
    dnnl_engine_t shared_engine;
    dnnl_stream_t shared_stream;
    if (lcr_dnnl_context(&shared_engine, &shared_stream, err, err_len)) return 1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    const int int8 = l->precision == LCR_INT8;
    dnnl_data_type_t in_type = int8 ? dnnl_u8 : l->precision == LCR_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_data_type_t out_type = l->bf16_output ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t src_dims = {rows, l->k}, b_dims = {1, l->n}, dst_dims = {rows, l->n};
    dnnl_memory_desc_t src_md, b_md, dst_md;
    dnnl_matmul_desc_t desc;
    LCR_CHECK(dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, in_type, dnnl_ab), "source descriptor");
    LCR_CHECK(dnnl_memory_desc_init_by_tag(&b_md, 2, b_dims, dnnl_f32, dnnl_ab), "bias descriptor");
    LCR_CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, out_type, dnnl_ab), "destination descriptor");
    // An int8 product adds its bias after the row scales, outside the primitive.
    LCR_CHECK(dnnl_matmul_desc_init(&desc, &src_md, w_md, l->bias && !int8 ? &b_md : NULL, &dst_md), "matmul descriptor");
    LCR_CHECK(dnnl_primitive_attr_create(&attr), "attribute creation");
    if (int8) {
        LCR_CHECK(dnnl_primitive_attr_set_output_scales(attr, l->n, 1 << 1, l->weight_scales), "output scales");
    } else if (l->fuse_gelu) {
        LCR_CHECK(dnnl_post_ops_create(&ops), "post-ops creation");
        LCR_CHECK(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f), "GELU post-op");
        LCR_CHECK(dnnl_primitive_attr_set_post_ops(attr, ops), "post-ops");
    }
    if (choose_implementation(l, &desc, attr, shared_engine, pd, err, err_len)) goto fail;
    if (int8) {
        const char *name = NULL;
        if (dnnl_primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name
            && strncmp(name, "ref", 3) == 0) {
            snprintf(err, err_len, "int8 matrix products are not available on this CPU: oneDNN has only its "
                     "reference implementation (%s) for them here, which would run many times slower than fp32; "
                     "use fp32 (or bf16)", name);
            dnnl_primitive_desc_destroy(*pd);
            *pd = NULL;
            goto fail;
        }
    }
    dnnl_primitive_attr_destroy(attr);
    if (ops) dnnl_post_ops_destroy(ops);
    return 0;
fail:
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (ops) dnnl_post_ops_destroy(ops);
    return 1;
}

// Reorders `weight_plain` ([n,k] row-major of `wtype`) into the layout oneDNN prefers.
static int create_common(lcr_linear **out, const void *weight_plain, dnnl_data_type_t wtype,
                         const float *bias, int64_t n, int64_t k, lcr_precision precision,
                         int fuse_gelu, int bf16_output, char *err, size_t err_len) {
    lcr_linear *l = NULL;
    dnnl_primitive_desc_t pd = NULL, reorder_pd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t plain_mem = NULL, packed_mem = NULL;
    int8_t *quantized = NULL;   // int8: the weights quantised, before oneDNN packs them

    dnnl_engine_t shared_engine;
    dnnl_stream_t shared_stream;
    if (lcr_dnnl_context(&shared_engine, &shared_stream, err, err_len)) return 1;
    if (n <= 0 || k <= 0) {
        snprintf(err, err_len, "matrix product needs positive sizes, got n=%lld k=%lld",
                 (long long)n, (long long)k);
        return 1;
    }
    l = calloc(1, sizeof(*l));
    if (!l) { snprintf(err, err_len, "out of memory"); return 1; }
    if (bf16_output && precision != LCR_BF16) {
        snprintf(err, err_len, "a bf16 output needs a bf16 product");
        free(l);
        return 1;
    }
    if (precision != LCR_F32 && precision != LCR_BF16 && precision != LCR_INT8) {
        snprintf(err, err_len, "unknown product precision %d", (int)precision);
        free(l);
        return 1;
    }
    l->n = n; l->k = k; l->precision = precision; l->fuse_gelu = fuse_gelu; l->bf16_output = bf16_output;
    if (bias) {
        l->bias = malloc((size_t)n * sizeof(float));
        if (!l->bias) { snprintf(err, err_len, "out of memory (bias)"); goto fail; }
        memcpy(l->bias, bias, (size_t)n * sizeof(float));
    }
    if (precision == LCR_INT8) {
        if (wtype != dnnl_f32) { snprintf(err, err_len, "int8 products quantise fp32 weights"); goto fail; }
        l->weight_scales = malloc((size_t)n * sizeof(float));
        l->weight_sums = malloc((size_t)n * sizeof(float));
        quantized = malloc((size_t)n * (size_t)k);
        if (!l->weight_scales || !l->weight_sums || !quantized) { snprintf(err, err_len, "out of memory (int8 weights)"); goto fail; }
        lcr_quantize_weights_s8(weight_plain, n, k, quantized, l->weight_scales);
        // The activations' zero points multiply each channel's weight sum (exact in int64).
        for (int64_t j = 0; j < n; j++) {
            int64_t sum = 0;
            for (int64_t c = 0; c < k; c++) sum += quantized[j * k + c];
            l->weight_sums[j] = l->weight_scales[j] * (float)sum;
        }
        // The same int8 weights by input channel: an activation row's outliers multiply their
        // channel's weights outside oneDNN (1 byte per weight more; blocked for the cache).
        l->weights_t = malloc((size_t)n * (size_t)k);
        if (!l->weights_t) { snprintf(err, err_len, "out of memory (int8 weights)"); goto fail; }
        for (int64_t j0 = 0; j0 < n; j0 += 64)
            for (int64_t c0 = 0; c0 < k; c0 += 64)
                for (int64_t j = j0; j < n && j < j0 + 64; j++)
                    for (int64_t c = c0; c < k && c < c0 + 64; c++) l->weights_t[c * n + j] = quantized[j * k + c];
        weight_plain = quantized;
        wtype = dnnl_s8;
    }

    // The weights' type: int8 products take s8 weights (and u8 activations).
    dnnl_data_type_t in_type = precision == LCR_INT8 ? dnnl_s8 : precision == LCR_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t w_dims = {k, n};
    dnnl_memory_desc_t w_any_md, w_plain_md;
    LCR_CHECK(dnnl_memory_desc_init_by_tag(&w_any_md, 2, w_dims, in_type, dnnl_format_tag_any), "weights descriptor");
    // PyTorch's [n,k] weight read as the [k,n] matrix Wᵀ is layout "ba".
    LCR_CHECK(dnnl_memory_desc_init_by_tag(&w_plain_md, 2, w_dims, wtype, dnnl_ba), "plain weights descriptor");
    if (make_pd(l, LCR_PROBE_ROWS, &w_any_md, &pd, err, err_len)) goto fail;
    l->weights_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);

    size_t packed_size = dnnl_memory_desc_get_size(&l->weights_md);
    l->weights = aligned_alloc(64, (packed_size + 63) / 64 * 64);
    if (!l->weights) { snprintf(err, err_len, "out of memory (weights)"); goto fail; }
    LCR_CHECK(dnnl_memory_create(&plain_mem, &w_plain_md, shared_engine, (void *)weight_plain), "plain weights memory");
    LCR_CHECK(dnnl_memory_create(&packed_mem, &l->weights_md, shared_engine, l->weights), "packed weights memory");
    LCR_CHECK(dnnl_reorder_primitive_desc_create(&reorder_pd, &w_plain_md, shared_engine, &l->weights_md, shared_engine, NULL), "weights reorder descriptor");
    LCR_CHECK(dnnl_primitive_create(&reorder, reorder_pd), "weights reorder");
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, plain_mem}, {DNNL_ARG_TO, packed_mem}};
    LCR_CHECK(dnnl_primitive_execute(reorder, shared_stream, 2, rargs), "weights reorder");
    LCR_CHECK(dnnl_stream_wait(shared_stream), "stream wait");

    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(reorder_pd);
    dnnl_memory_destroy(plain_mem);
    dnnl_memory_destroy(packed_mem);
    dnnl_primitive_desc_destroy(pd);
    free(quantized);
    *out = l;
    return 0;
fail:
    if (reorder) dnnl_primitive_destroy(reorder);
    if (reorder_pd) dnnl_primitive_desc_destroy(reorder_pd);
    if (plain_mem) dnnl_memory_destroy(plain_mem);
    if (packed_mem) dnnl_memory_destroy(packed_mem);
    if (pd) dnnl_primitive_desc_destroy(pd);
    free(quantized);
    lcr_linear_destroy(l);
    return 1;
}

int lcr_linear_create(lcr_linear **out, const float *weight, const float *bias, int64_t n,
                      int64_t k, lcr_precision precision, int fuse_gelu, int bf16_output,
                      char *err, size_t err_len) {
    return create_common(out, weight, dnnl_f32, bias, n, k, precision, fuse_gelu, bf16_output, err, err_len);
}

// The primitives for `rows` rows: from the cache, or compiled (evicting the least recently used).
static cached_primitive *primitive_for(lcr_linear *l, int64_t rows, char *err, size_t err_len) {
    cached_primitive *slot = &l->cache[0];
    for (int i = 0; i < LCR_PRIMITIVE_CACHE; i++) {
        cached_primitive *c = &l->cache[i];
        if (c->rows == rows) { c->last_use = ++l->clock; return c; }
        if (c->rows == 0 || c->last_use < slot->last_use) slot = c;
    }
    dnnl_primitive_desc_t pd = NULL, reorder_pd = NULL;
    dnnl_primitive_t p = NULL, reorder = NULL;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    if (lcr_dnnl_context(&engine, &stream, err, err_len)) return NULL;
    if (make_pd(l, rows, &l->weights_md, &pd, err, err_len)) return NULL;
    LCR_CHECK(dnnl_primitive_create(&p, pd), "matmul primitive");
    dnnl_primitive_desc_destroy(pd);
    pd = NULL;
    if (l->precision == LCR_BF16) {
        // The activations' conversion runs as a oneDNN reorder: JIT-compiled and threaded.
        dnnl_dims_t dims = {rows, l->k};
        dnnl_memory_desc_t f32_md, bf16_md;
        LCR_CHECK(dnnl_memory_desc_init_by_tag(&f32_md, 2, dims, dnnl_f32, dnnl_ab), "f32 input descriptor");
        LCR_CHECK(dnnl_memory_desc_init_by_tag(&bf16_md, 2, dims, dnnl_bf16, dnnl_ab), "bf16 input descriptor");
        LCR_CHECK(dnnl_reorder_primitive_desc_create(&reorder_pd, &f32_md, engine, &bf16_md, engine, NULL), "input reorder descriptor");
        LCR_CHECK(dnnl_primitive_create(&reorder, reorder_pd), "input reorder");
        dnnl_primitive_desc_destroy(reorder_pd);
        reorder_pd = NULL;
    }
    if (slot->primitive) dnnl_primitive_destroy(slot->primitive);
    if (slot->to_bf16) dnnl_primitive_destroy(slot->to_bf16);
    slot->rows = rows;
    slot->primitive = p;
    slot->to_bf16 = reorder;
    slot->last_use = ++l->clock;
    return slot;
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (reorder_pd) dnnl_primitive_desc_destroy(reorder_pd);
    if (p) dnnl_primitive_destroy(p);
    return NULL;
}

int lcr_linear_implementation(lcr_linear *l, int64_t rows, char *name, size_t name_len, char *err, size_t err_len) {
    const_dnnl_primitive_desc_t pd = NULL;
    const char *impl = NULL;
    if (rows <= 0) { snprintf(err, err_len, "the implementation is chosen for a positive row count, got %lld", (long long)rows); return 1; }
    cached_primitive *cached = primitive_for(l, rows, err, err_len);
    if (!cached) return 1;
    LCR_CHECK(dnnl_primitive_get_primitive_desc(cached->primitive, &pd), "primitive descriptor query");
    LCR_CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl), "implementation query");
    snprintf(name, name_len, "%s", impl ? impl : "");
    return 0;
fail:
    return 1;
}

int lcr_linear_run(lcr_linear *l, const void *x, int x_is_bf16, int64_t rows, void *y, char *err, size_t err_len) {
    dnnl_memory_t src = NULL, w = NULL, b = NULL, dst = NULL, f32_src = NULL;
    dnnl_engine_t shared_engine;
    dnnl_stream_t shared_stream;
    if (rows <= 0) return 0;
    if (lcr_dnnl_context(&shared_engine, &shared_stream, err, err_len)) return 1;
    cached_primitive *cached = primitive_for(l, rows, err, err_len);
    if (!cached) return 1;
    if (x_is_bf16 && l->precision != LCR_BF16) {
        snprintf(err, err_len, "a bf16 input needs a bf16 product");
        return 1;
    }
    const void *src_data = x;
    dnnl_data_type_t in_type = x_is_bf16 ? dnnl_bf16 : dnnl_f32;
    if (l->precision == LCR_INT8) {
        if (reserve((void **)&x_u8, &x_u8_capacity, rows * l->k, 1)
            || reserve((void **)&x_row_scales, &x_row_scales_capacity, rows, sizeof(float))
            || reserve((void **)&x_row_offsets, &x_row_offsets_capacity, rows, sizeof(float))
            || reserve((void **)&x_outlier_index, &x_outlier_index_capacity, rows * LCR_INT8_OUTLIERS, sizeof(int32_t))
            || reserve((void **)&x_outlier_value, &x_outlier_value_capacity, rows * LCR_INT8_OUTLIERS, sizeof(float))) {
            snprintf(err, err_len, "out of memory (int8 activations)");
            return 1;
        }
        lcr_quantize_rows_u8(x, rows, l->k, int8_activation_levels(), x_u8, x_row_scales, x_row_offsets,
                             x_outlier_index, x_outlier_value);
        src_data = x_u8;
        in_type = dnnl_u8;
    }
    if (l->precision == LCR_BF16 && !x_is_bf16) {
        int64_t need = rows * l->k;
        if (need > x_bf16_capacity) {
            free(x_bf16);
            x_bf16 = aligned_alloc(64, ((size_t)need * 2 + 63) / 64 * 64);
            x_bf16_capacity = x_bf16 ? need : 0;
            if (!x_bf16) { snprintf(err, err_len, "out of memory (bf16 activations)"); return 1; }
        }
        src_data = x_bf16;
        in_type = dnnl_bf16;
    }
    dnnl_dims_t src_dims = {rows, l->k}, b_dims = {1, l->n}, dst_dims = {rows, l->n};
    dnnl_memory_desc_t src_md, b_md, dst_md;
    LCR_CHECK(dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, in_type, dnnl_ab), "source descriptor");
    LCR_CHECK(dnnl_memory_desc_init_by_tag(&b_md, 2, b_dims, dnnl_f32, dnnl_ab), "bias descriptor");
    LCR_CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, l->bf16_output ? dnnl_bf16 : dnnl_f32, dnnl_ab), "destination descriptor");
    LCR_CHECK(dnnl_memory_create(&src, &src_md, shared_engine, (void *)src_data), "source memory");
    if (cached->to_bf16 && !x_is_bf16) {
        dnnl_memory_desc_t f32_md;
        LCR_CHECK(dnnl_memory_desc_init_by_tag(&f32_md, 2, src_dims, dnnl_f32, dnnl_ab), "f32 input descriptor");
        LCR_CHECK(dnnl_memory_create(&f32_src, &f32_md, shared_engine, (void *)x), "f32 input memory");
        dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, f32_src}, {DNNL_ARG_TO, src}};
        LCR_CHECK(dnnl_primitive_execute(cached->to_bf16, shared_stream, 2, rargs), "input conversion to bf16");
    }
    LCR_CHECK(dnnl_memory_create(&w, &l->weights_md, shared_engine, l->weights), "weights memory");
    LCR_CHECK(dnnl_memory_create(&dst, &dst_md, shared_engine, y), "destination memory");
    dnnl_exec_arg_t args[4];
    int nargs = 0;
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, src};
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, w};
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DST, dst};
    if (l->bias && l->precision != LCR_INT8) {
        LCR_CHECK(dnnl_memory_create(&b, &b_md, shared_engine, l->bias), "bias memory");
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, b};
    }
    LCR_CHECK(dnnl_primitive_execute(cached->primitive, shared_stream, nargs, args), "matmul");
    LCR_CHECK(dnnl_stream_wait(shared_stream), "stream wait");
    if (l->precision == LCR_INT8) {
        const lcr_int8_weights weights = {l->weights_t, l->weight_scales, l->weight_sums};
        lcr_dequantize_rows(y, rows, l->n, x_row_scales, x_row_offsets, l->bias, l->fuse_gelu, &weights,
                            x_outlier_index, x_outlier_value);
    }
    dnnl_memory_destroy(src); dnnl_memory_destroy(w); dnnl_memory_destroy(dst);
    if (b) dnnl_memory_destroy(b);
    if (f32_src) dnnl_memory_destroy(f32_src);
    return 0;
fail:
    if (f32_src) dnnl_memory_destroy(f32_src);
    if (src) dnnl_memory_destroy(src);
    if (w) dnnl_memory_destroy(w);
    if (dst) dnnl_memory_destroy(dst);
    if (b) dnnl_memory_destroy(b);
    return 1;
}

void lcr_linear_destroy(lcr_linear *l) {
    if (!l) return;
    for (int i = 0; i < LCR_PRIMITIVE_CACHE; i++) {
        if (l->cache[i].primitive) dnnl_primitive_destroy(l->cache[i].primitive);
        if (l->cache[i].to_bf16) dnnl_primitive_destroy(l->cache[i].to_bf16);
    }
    free(l->weights);
    free(l->bias);
    free(l->weight_scales);
    free(l->weight_sums);
    free(l->weights_t);
    free(l);
}

// One small int8 product, to learn whether oneDNN has a real kernel for int8 on this CPU.
static int probe_int8(void) {
    enum { N = 64, K = 64 };
    static float weights[N * K];
    for (int i = 0; i < N * K; i++) weights[i] = (float)((i * 7) % 13) - 6.0f;
    lcr_linear *l = NULL;
    char err[256];
    const int ok = lcr_linear_create(&l, weights, NULL, N, K, LCR_INT8, 0, 0, err, sizeof err) == 0;
    lcr_linear_destroy(l);
    return ok;
}

static pthread_once_t int8_probe_once = PTHREAD_ONCE_INIT;
static int int8_available = 0;
static void run_int8_probe(void) { int8_available = probe_int8(); }

int lcr_cpu_runs_int8_products(void) {
    pthread_once(&int8_probe_once, run_int8_probe);
    return int8_available;
}

int lcr_sgemm(char trans_a, char trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
              float *c, int64_t ldc) {
    return dnnl_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == dnnl_success ? 0 : 1;
}
